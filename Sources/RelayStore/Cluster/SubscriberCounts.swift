/// `PUBSUB NUMSUB` replies of several nodes summed into one: a cluster
/// counts classic Pub/Sub subscribers per node.
public enum SubscriberCounts {
    /// The replies' `[channel, count, ...]` summed count by count (the first
    /// well-formed reply gives the channels; a reply of another length, or
    /// not an array, is left out). A node that failed counts none; when
    /// every node failed, the first failure. Counts saturate instead of
    /// overflowing.
    public static func sum(_ replies: [Result<RESPValue, RedisError>]) -> Result<RESPValue, RedisError> {
        var totals: [RESPValue]? = nil
        var firstFailure: RedisError? = nil
        for reply in replies {
            switch reply {
            case .success(let value):
                guard let pairs = value.array, pairs.count % 2 == 0 else { continue }
                guard var summed = totals else {
                    totals = pairs
                    continue
                }
                guard summed.count == pairs.count else { continue }
                for index in stride(from: 1, to: pairs.count, by: 2) {
                    let (sum, overflow) = (summed[index].int ?? 0).addingReportingOverflow(pairs[index].int ?? 0)
                    summed[index] = .integer(Int64(clamping: overflow ? Int.max : sum))
                }
                totals = summed
            case .failure(let error):
                firstFailure = firstFailure ?? error
            }
        }
        if let totals { return .success(.array(totals)) }
        return .failure(firstFailure ?? RedisError(.protocol, message: "no answer to PUBSUB NUMSUB"))
    }
}
