/// Why an attachment cannot be sealed or opened.
public struct AttachmentError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, saying what to do.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
