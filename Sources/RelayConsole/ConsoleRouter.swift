import Foundation
import Hummingbird
import RelayDrill
import ServiceLifecycle

/// The console's routes over Hummingbird:
///
/// - `GET /` the page (`?token=TOKEN` logs in: sets the cookie and redirects to `/`);
/// - `GET /events` server-sent events `deployment` and `drills` (HTML fragments);
/// - `GET /api/deployment` the deployment view as JSON;
/// - `GET /api/drills`, `GET /api/drills/{id}` drills as JSON; `POST /api/drills` starts one (JSON form, 202);
/// - `GET /drills/{id}` a finished drill's report page with its plots.
///
/// Every route answers 401 without the operator token.
package enum ConsoleRouter {
    /// The router for `monitor`, `desk` and `events`, guarded by `auth`.
    package static func make(auth: OperatorAuth, monitor: DeploymentMonitor, desk: DrillDesk, events: ConsoleEvents,
                             regions: [String]) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: TokenMiddleware(auth: auth))
        router.get("/") { _, _ -> Response in
            html(ConsoleHTML.page(deployment: monitor.view, drills: desk.records, regions: regions))
        }
        router.get("/events") { _, _ -> Response in
            let stream = events.subscribe()
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream; charset=utf-8"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                // A comment first, so that the browser sees the stream open at once.
                try await writer.write(ByteBuffer(string: ": relay console\n\n"))
                // The server's graceful shutdown waits for open responses: end the streams then.
                try await withGracefulShutdownHandler {
                    for await event in stream {
                        try await writer.write(ByteBuffer(string: event.encoded))
                    }
                } onGracefulShutdown: {
                    events.finish()
                }
                try await writer.finish(nil)
            })
        }
        router.get("/api/deployment") { _, _ -> Response in
            guard let view = monitor.view else { return text(.serviceUnavailable, "the deployment has not been read yet\n") }
            return json(view)
        }
        router.get("/api/drills") { _, _ -> Response in
            json(desk.records)
        }
        router.get("/api/drills/{id}") { _, context -> Response in
            guard let id = context.parameters.get("id"), let record = desk.record(id: id) else { return text(.notFound, "no such drill\n") }
            return json(record)
        }
        router.get("/drills/{id}") { _, context -> Response in
            guard let id = context.parameters.get("id"), let record = desk.record(id: id) else { return text(.notFound, "no such drill\n") }
            guard let report = record.report else { return text(.notFound, "drill \(id) has no report (\(record.state.rawValue))\n") }
            return html(DrillHTML.page(report))
        }
        router.post("/api/drills") { request, context -> Response in
            let form: DrillRequest.Form
            do {
                form = try await request.decode(as: DrillRequest.Form.self, context: context)
            } catch {
                return text(.badRequest, "the body must be a JSON object: {\"kind\", \"region\", \"mode\", \"automatic\", \"devices\", \"rate\", \"duration\"}\n")
            }
            let drill: DrillRequest
            do {
                drill = try DrillRequest(form: form, regions: regions)
            } catch {
                return text(.badRequest, "\(error)\n")
            }
            do {
                let record = try desk.start(drill)
                var response = json(record)
                response.status = .accepted
                return response
            } catch {
                return text(.conflict, "\(error)\n")
            }
        }
        return router
    }

    static func html(_ page: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func json(_ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else { return text(.internalServerError, "cannot encode the answer\n") }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// 401 for a request without the operator token; a `?token=` login sets the
/// cookie (HttpOnly, SameSite=Strict) and redirects to the same path without it.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let auth: OperatorAuth

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let decision = auth.decide(
            authorization: request.headers[.authorization],
            cookie: request.cookies[OperatorAuth.cookieName]?.value,
            queryToken: request.uri.queryParameters["token"].map(String.init))
        switch decision {
        case .allow:
            return try await next(request, context)
        case .login:
            guard let token = request.uri.queryParameters["token"].map(String.init),
                  let cookie = try? Cookie.validated(name: OperatorAuth.cookieName, value: token, path: "/", httpOnly: true, sameSite: .strict) else {
                return ConsoleRouter.text(.unauthorized, "operator token required\n")
            }
            var headers = HTTPFields()
            headers[.location] = request.uri.path
            var response = Response(status: .seeOther, headers: headers)
            response.setCookie(cookie)
            return response
        case .deny:
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            headers[.wwwAuthenticate] = "Bearer realm=\"relay console\""
            return Response(status: .unauthorized, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: "operator token required: Authorization: Bearer TOKEN, or open /?token=TOKEN (keys/console.token)\n")))
        }
    }
}
