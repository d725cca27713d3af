@main struct Main { static func main() { print("stand-in ok") } }
