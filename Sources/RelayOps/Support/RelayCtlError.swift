/// A failure `relayctl` reports as "Error: <message>" with exit code 1; the
/// message says what to fix.
package struct RelayCtlError: Error, CustomStringConvertible {
    package let description: String

    package init(_ description: String) {
        self.description = description
    }
}
