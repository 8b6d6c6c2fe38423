import MeridianSecurity
import MeridianConfig
import Testing

@Suite("CORSPolicy.validate")
struct CORSPolicyConfigurationTests {
    private func problems(
        origins: [String] = ["https://app.example.com"],
        methods: [String] = ["GET", "HEAD", "POST"],
        allowHeaders: [String] = [],
        exposeHeaders: [String] = [],
        credentials: Bool = false,
        maxAge: Int? = 600
    ) -> [String] {
        CORSPolicy.Configuration.validate(
            CORSPolicy.Configuration(
                origins: origins,
                methods: methods,
                allowHeaders: allowHeaders,
                exposeHeaders: exposeHeaders,
                credentials: credentials,
                maxAge: maxAge
            )
        )
    }

    @Test func defaultsAreDocumentedValues() {
        let c = CORSPolicy.Configuration(origins: ["https://a.example"])
        #expect(c.methods == ["GET", "HEAD", "POST"])
        #expect(c.allowHeaders.isEmpty)
        #expect(c.exposeHeaders.isEmpty)
        #expect(c.credentials == false)
        #expect(c.maxAge == 600)
        #expect(c.allowPrivateNetwork == false)
        #expect(CORSPolicy.Configuration.validate(c).isEmpty)
    }

    @Test func validConfigurationsHaveNoProblems() {
        #expect(problems().isEmpty)
        #expect(problems(origins: ["*"]).isEmpty)
        #expect(
            problems(origins: ["null", "https://*.example.com", "http://localhost:3000"], credentials: true).isEmpty)
        #expect(problems(allowHeaders: ["*"], credentials: true).isEmpty)
        #expect(problems(exposeHeaders: ["*"]).isEmpty)
        #expect(problems(methods: ["GET", "PATCH", "PROPFIND"], maxAge: nil).isEmpty)
    }

    @Test func emptyOriginsIsAProblem() {
        let found = problems(origins: [])
        #expect(found.count == 1)
        #expect(found.first?.contains("origins") == true)
        #expect(found.first?.contains("https://") == true)
    }

    @Test func malformedOriginsAreEachReportedWithTheirPosition() {
        let found = problems(origins: ["https://ok.example", "https://a.example/", "a.example", "https://ex*.com"])
        #expect(found.count == 3)
        #expect(found.contains { $0.contains("origins[1]") && $0.contains("\"https://a.example\"") })
        #expect(found.contains { $0.contains("origins[2]") && $0.contains("scheme") })
        #expect(found.contains { $0.contains("origins[3]") && $0.contains("https://ex*.com") })
    }

    @Test func anyOriginWithCredentialsIsAProblemThatSaysToListOrigins() {
        let found = problems(origins: ["*"], credentials: true)
        #expect(found.count == 1)
        #expect(found.first?.contains("credentials") == true)
        #expect(found.first?.contains("list") == true)
        #expect(found.first?.contains("Fetch") == true)
    }

    @Test func exposeStarWithCredentialsIsAProblem() {
        let found = problems(exposeHeaders: ["*"], credentials: true)
        #expect(found.count == 1)
        #expect(found.first?.contains("exposeHeaders") == true)
    }

    @Test(arguments: ["", "G ET", "GET,POST", "GÉT", "GET\r\n", "*"])
    func badMethodTokensAreProblems(method: String) {
        let found = problems(methods: ["GET", method])
        #expect(found.count == 1)
        #expect(found.first?.contains("methods[1]") == true)
    }

    @Test func emptyMethodsIsAProblem() {
        #expect(problems(methods: []).first?.contains("methods") == true)
    }

    @Test(arguments: ["", "X Bad", "x:y", "x-a,x-b", "naïve", "x\n"])
    func badHeaderNamesAreProblems(name: String) {
        let allow = problems(allowHeaders: [name])
        #expect(allow.count == 1)
        #expect(allow.first?.contains("allowHeaders[0]") == true)
        let expose = problems(exposeHeaders: ["X-Ok", name])
        #expect(expose.count == 1)
        #expect(expose.first?.contains("exposeHeaders[1]") == true)
    }

    @Test func negativeMaxAgeIsAProblem() {
        #expect(problems(maxAge: -1).first?.contains("maxAge") == true)
    }

    @Test func everyProblemIsReportedAtOnce() {
        let found = problems(
            origins: ["*", "https://a.example/"], methods: ["G T"], allowHeaders: ["a b"], credentials: true)
        #expect(found.count == 4)
    }

    @Test func initRefusesAnInvalidConfigurationWithItsProblems() {
        let config = CORSPolicy.Configuration(origins: ["*"], credentials: true)
        do {
            _ = try CORSPolicy(config)
            Issue.record("expected the policy to be refused")
        } catch {
            #expect(error.problems == CORSPolicy.Configuration.validate(config))
            #expect(error.description.contains("cors"))
            #expect(error.description.contains("credentials"))
        }
    }

    @Test func policyKeepsItsConfiguration() throws {
        let config = CORSPolicy.Configuration(origins: ["https://a.example"], credentials: true)
        #expect(try CORSPolicy(config).configuration == config)
    }
}
