enum RewindTerminalPlaceholder {}
