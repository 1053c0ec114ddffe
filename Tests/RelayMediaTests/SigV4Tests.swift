import Testing
@testable import RelayMedia

/// AWS's published examples, byte for byte.
@Suite struct SigV4Tests {
    /// The Signature Version 4 test suite's `get-vanilla`
    /// (credentials AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service").
    @Test func getVanilla() {
        let signer = SigV4(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region: "us-east-1", service: "service")
        let headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]
        let (canonical, signed) = SigV4.canonicalRequest(method: "GET", path: "/", query: [], headers: headers, payloadHash: SigV4.emptyPayload)
        #expect(canonical == "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + SigV4.emptyPayload)
        #expect(signed == "host;x-amz-date")
        #expect(signer.stringToSign(canonical, timestamp: "20150830T123600Z")
            == "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63")
        #expect(signer.authorization(method: "GET", path: "/", query: [], headers: headers, payloadHash: SigV4.emptyPayload, timestamp: "20150830T123600Z")
            == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    let s3 = SigV4(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")

    /// S3's "GET Object" example of header-based authentication (with a Range).
    @Test func s3GetObjectWithRange() {
        let headers = [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                       ("x-amz-content-sha256", SigV4.emptyPayload), ("x-amz-date", "20130524T000000Z")]
        #expect(s3.authorization(method: "GET", path: "/test.txt", query: [], headers: headers, payloadHash: SigV4.emptyPayload, timestamp: "20130524T000000Z")
            == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    /// S3's presigned URL example (query-string authentication, 86400 s).
    @Test func s3PresignedGet() {
        let query = s3.presignedQuery(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", expires: 86400, timestamp: "20130524T000000Z")
        #expect(query == "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test func encodingFollowsAWSRules() {
        #expect(SigV4.encode("a b/c~d_e.f-g*") == "a%20b%2Fc~d_e.f-g%2A")
        #expect(SigV4.encode("/dir/file name", encodeSlash: false) == "/dir/file%20name")
        #expect(SigV4.encode("é") == "%C3%A9")
    }
}
