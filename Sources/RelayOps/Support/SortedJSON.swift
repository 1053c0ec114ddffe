import Foundation

/// One line of JSON with sorted keys, for `--json` outcomes.
package protocol SortedJSON: Encodable {}

extension SortedJSON {
    package var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}
