import RewindCommands
RewindCommand.main()
