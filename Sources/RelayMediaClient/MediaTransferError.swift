/// A transfer that failed, saying what the server answered or what to do.
public struct MediaTransferError: Error, CustomStringConvertible {
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// What went wrong.
    public var description: String

    init(status: Int? = nil, _ description: String) {
        self.status = status
        self.description = description
    }
}
