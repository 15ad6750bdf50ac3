import Hummingbird
import NIOCore

/// The HTTP API's OpenAPI 3.1 document, served at `/api/v1/openapi.yaml` without a token. Kept beside the handlers
/// it describes; schemathesis checks every answer of a running console against it (Tests/clients/console_api.py).
enum OpenAPIDocument {
    static func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/yaml"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: yaml)))
    }

    /// The refusals an operation may answer, each in the error shape (one line per status, at the indentation of
    /// an operation's `responses`).
    static func errors(_ statuses: Int...) -> String {
        statuses.map { "        \"\($0)\": {$ref: \"#/components/responses/Error\"}" }.joined(separator: "\n")
    }

    static let yaml = #"""
openapi: 3.1.0
info:
  title: Poplar admin API
  version: "1"
  description: >
    The web console's operations as JSON (docs/console.md, "HTTP API"). Every request but this document carries
    Authorization: Bearer <token> (poplar admin-user token NAME) and acts as that administrator; every change is in
    the audit log. Errors have one shape: {"error": {"code", "message"}}.
servers:
  - url: /api/v1
security:
  - bearer: []
components:
  securitySchemes:
    bearer:
      type: http
      scheme: bearer
  parameters:
    domain:
      name: domain
      in: path
      required: true
      schema: {type: string, maxLength: 253}
    address:
      name: address
      in: path
      required: true
      description: user@domain
      schema: {type: string, maxLength: 320}
    badmail:
      name: name
      in: path
      required: true
      description: a file's name in Badmail
      schema: {type: string, maxLength: 255}
    node:
      name: node
      in: path
      required: true
      schema: {type: string, maxLength: 64}
  schemas:
    Error:
      type: object
      required: [error]
      additionalProperties: false
      properties:
        error:
          type: object
          required: [code, message]
          additionalProperties: false
          properties:
            code:
              type: string
              enum: [invalid, bad_request, not_found, method_not_allowed, already_exists, in_use, store_unavailable,
                     unauthorized, too_large, unsupported_media_type]
            message: {type: string}
    Domain:
      type: object
      required: [name, login-delay, expire-days, reconnect-wins]
      properties:
        name: {type: string}
        login-delay: {type: integer, description: seconds}
        expire-days: {type: [integer, "null"]}
        reconnect-wins: {type: boolean}
    Mailbox:
      type: object
      required: [address, messages, bytes, quota, apop, password, lock]
      properties:
        address: {type: string}
        messages: {type: integer, minimum: 0}
        bytes: {type: integer, minimum: 0}
        quota: {type: [integer, "null"], description: bytes; null for none}
        apop: {type: boolean}
        password: {type: boolean, description: false for an external mailbox}
        lock:
          type: object
          required: [state]
          properties:
            state: {type: string, enum: [free, session, admin, claiming, missing]}
            node: {type: string}
            session: {type: string}
            since: {type: string, format: date-time}
    Address:
      type: object
      required: [address]
      properties:
        address: {type: string}
  responses:
    Error:
      description: refused; the code says why
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
paths:
  /domains:
    get:
      operationId: listDomains
      responses:
        "200":
          description: every accepted domain
          content:
            application/json:
              schema:
                type: object
                required: [domains]
                properties:
                  domains: {type: array, items: {$ref: "#/components/schemas/Domain"}}
\#(errors(401, 503))
    post:
      operationId: addDomain
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties:
                name: {type: string, maxLength: 253}
      responses:
        "201":
          description: accepted from now on
          content:
            application/json:
              schema: {type: object, required: [name], properties: {name: {type: string}}}
\#(errors(400, 401, 409, 413, 415, 503))
  /domains/{domain}:
    delete:
      operationId: removeDomain
      parameters:
        - $ref: "#/components/parameters/domain"
        - name: purge
          in: query
          description: also delete its mailboxes and every message
          schema: {type: string, enum: ["true", "false"]}
      responses:
        "200":
          description: no longer accepted
          content:
            application/json:
              schema: {type: object, required: [name, purged], properties: {name: {type: string}, purged: {type: boolean}}}
\#(errors(400, 401, 404, 409, 503))
  /domains/{domain}/rename:
    post:
      operationId: renameDomain
      parameters: [{$ref: "#/components/parameters/domain"}]
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [to], properties: {to: {type: string, maxLength: 253}}}
      responses:
        "200":
          description: every mailbox moved
          content:
            application/json:
              schema:
                type: object
                required: [from, to, moved]
                properties: {from: {type: string}, to: {type: string}, moved: {type: integer, minimum: 0}}
\#(errors(400, 401, 404, 409, 413, 415, 503))
  /domains/{domain}/mailboxes:
    get:
      operationId: listMailboxes
      parameters:
        - $ref: "#/components/parameters/domain"
        - {name: search, in: query, schema: {type: string, maxLength: 64}}
        - {name: after, in: query, description: the last name of the page before, schema: {type: string}}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500}}
      responses:
        "200":
          description: one page of the domain's mailboxes, by name
          content:
            application/json:
              schema:
                type: object
                required: [domain, mailboxes, matching, next]
                properties:
                  domain: {type: string}
                  mailboxes: {type: array, items: {type: string}}
                  matching: {type: integer, minimum: 0}
                  next: {type: [string, "null"]}
\#(errors(400, 401, 404, 503))
  /mailboxes:
    post:
      operationId: addMailbox
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [address]
              properties:
                address: {type: string, maxLength: 320}
                password: {type: string, maxLength: 1024, description: absent for an external mailbox}
                apop: {type: boolean}
                quota: {type: string, description: "none, or a size: 500M, 2G, 1.5GiB"}
      responses:
        "201":
          description: created
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Mailbox"}
\#(errors(400, 401, 404, 409, 413, 415, 503))
  /mailboxes/{address}:
    get:
      operationId: getMailbox
      parameters: [{$ref: "#/components/parameters/address"}]
      responses:
        "200":
          description: the mailbox
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Mailbox"}
\#(errors(400, 401, 404, 503))
    delete:
      operationId: removeMailbox
      parameters: [{$ref: "#/components/parameters/address"}]
      responses:
        "200":
          description: removed with every message
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Address"}
\#(errors(400, 401, 404, 409, 503))
  /mailboxes/{address}/password:
    put:
      operationId: setPassword
      parameters: [{$ref: "#/components/parameters/address"}]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [password]
              properties:
                password: {type: string, maxLength: 1024}
                apop: {type: boolean}
      responses:
        "200":
          description: changed
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Address"}
\#(errors(400, 401, 404, 409, 413, 415, 503))
  /mailboxes/{address}/quota:
    put:
      operationId: setQuota
      parameters: [{$ref: "#/components/parameters/address"}]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [quota]
              properties:
                quota: {type: string, description: "none, or a size: 500M, 2G, 1.5GiB"}
      responses:
        "200":
          description: changed
          content:
            application/json:
              schema:
                type: object
                required: [address, quota]
                properties: {address: {type: string}, quota: {type: [integer, "null"]}}
\#(errors(400, 401, 404, 409, 413, 415, 503))
  /mailboxes/{address}/kick:
    post:
      operationId: kickSession
      parameters: [{$ref: "#/components/parameters/address"}]
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                session: {type: string, description: only this session; refused if another holds the mailbox}
      responses:
        "200":
          description: the holding session's node was asked to end it (at its next registry update)
          content:
            application/json:
              schema:
                type: object
                required: [kicked]
                properties: {kicked: {type: boolean}, node: {type: string}, session: {type: string}}
\#(errors(400, 401, 404, 413, 415, 503))
  /mailboxes/{address}/unlock:
    post:
      operationId: unlockMailbox
      parameters: [{$ref: "#/components/parameters/address"}]
      responses:
        "200":
          description: the administrator's lock removed
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Address"}
\#(errors(400, 401, 404, 503))
  /cluster:
    get:
      operationId: clusterStatus
      responses:
        "200":
          description: every node of the registry and the coordinator that delivers
          content:
            application/json:
              schema:
                type: object
                required: [nodes, delivery-coordinator, coordinators]
                properties:
                  delivery-coordinator: {type: [string, "null"]}
                  coordinators:
                    type: array
                    items:
                      type: object
                      required: [id, active, running, published]
                      properties:
                        id: {type: string}
                        active: {type: boolean}
                        running: {type: boolean}
                        published: {type: string, format: date-time}
                  nodes:
                    type: array
                    items:
                      type: object
                      required: [node, address, version, draining, silent, updated, sessions]
                      properties:
                        node: {type: string}
                        address: {type: string}
                        version: {type: string}
                        draining: {type: boolean}
                        silent: {type: boolean}
                        updated: {type: string, format: date-time}
                        sessions:
                          type: array
                          items:
                            type: object
                            required: [mailbox, session, peer, since]
                            properties:
                              mailbox: {type: string}
                              session: {type: string}
                              peer: {type: string}
                              since: {type: string, format: date-time}
\#(errors(401, 503))
  /nodes/{node}/drain:
    post:
      operationId: drainNode
      parameters: [{$ref: "#/components/parameters/node"}]
      responses:
        "200":
          description: the node was asked to drain (at its next registry update)
          content:
            application/json:
              schema: {type: object, required: [node, sessions], properties: {node: {type: string}, sessions: {type: integer}}}
\#(errors(400, 401, 404, 503))
  /delivery:
    get:
      operationId: deliveryStatus
      responses:
        "200":
          description: what waits in the pickup folder, and Badmail newest first
          content:
            application/json:
              schema:
                type: object
                required: [pickup-waiting, oldest-waiting, badmail]
                properties:
                  pickup-waiting: {type: integer, minimum: 0}
                  oldest-waiting: {type: [string, "null"], format: date-time}
                  badmail:
                    type: array
                    items:
                      type: object
                      required: [name, size, modified, reason]
                      properties:
                        name: {type: string}
                        size: {type: integer, minimum: 0}
                        modified: {type: string, format: date-time}
                        reason: {type: string}
\#(errors(401, 503))
  /badmail/{name}/retry:
    post:
      operationId: retryBadmail
      parameters: [{$ref: "#/components/parameters/badmail"}]
      responses:
        "200":
          description: back in the pickup folder; the coordinator delivers it at its next scan
          content:
            application/json:
              schema: {type: object, required: [name], properties: {name: {type: string}}}
\#(errors(400, 401, 404, 409, 503))
  /badmail/{name}:
    delete:
      operationId: deleteBadmail
      parameters: [{$ref: "#/components/parameters/badmail"}]
      responses:
        "200":
          description: deleted with its reason
          content:
            application/json:
              schema: {type: object, required: [name], properties: {name: {type: string}}}
\#(errors(400, 401, 404, 503))
  /audit:
    get:
      operationId: auditLog
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 1000}}
      responses:
        "200":
          description: the newest changes first
          content:
            application/json:
              schema:
                type: object
                required: [entries]
                properties:
                  entries:
                    type: array
                    items:
                      type: object
                      required: [time, who, from, action, target, detail]
                      properties:
                        time: {type: string, format: date-time}
                        who: {type: string}
                        from: {type: string}
                        action: {type: string}
                        target: {type: string}
                        detail: {type: string}
\#(errors(400, 401, 503))
"""#
}
