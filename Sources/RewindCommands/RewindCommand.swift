public enum RewindCommand { public static func main() {} }
