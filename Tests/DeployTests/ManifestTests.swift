import Farm
import Foundation
import Logging
import Testing
import TestSupport

/// deploy/k8s and deploy/compose.yaml checked offline: kustomize renders, Kubernetes' own schemas (kubernetes-validate,
/// PyPI) and the compose specification's schema (check-jsonschema's vendored compose-spec, PyPI) accept them, a broken
/// copy is rejected, and the KEDA trigger's query runs as the read-only scaler role on the real schema.
@Suite("deployment manifests")
struct ManifestTests {
    static func rendered() throws -> String {
        let r = try DeployTools.run("kubectl", ["kustomize", DeployTools.deploy.appendingPathComponent("k8s").path])
        try #require(r.status == 0, "kubectl kustomize: \(r.stderr)")
        return r.stdout
    }

    static func documents(_ yaml: String) -> [String] {
        yaml.components(separatedBy: "\n---\n").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
    }

    @Test("kubectl kustomize renders deploy/k8s and kubernetes-validate --strict accepts every built-in kind")
    func kubernetesManifestsValidate() throws {
        let yaml = try Self.rendered()
        let dir = try ScratchDirectory(prefix: "sdfarm-k8s")
        defer { dir.remove() }
        try yaml.write(toFile: dir.path("all.yaml"), atomically: true, encoding: .utf8)
        let r = try DeployTools.run("kubernetes-validate", ["--strict", "--kubernetes-version", "1.30.0", dir.path("all.yaml")])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        for kind in ["namespace/sdfarm", "deployment/sdfarm-worker-sd15", "deployment/sdfarm-metrics", "job/sdfarm-migrate",
                     "persistentvolumeclaim/sdfarm-storage"] {
            #expect(r.stdout.contains("passed for resource \(kind)"), "\(kind) not validated: \(r.stdout)")
        }
        // What the issue asks of the worker Deployment, in the rendered output.
        let worker = try #require(Self.documents(yaml).first { $0.contains("name: sdfarm-worker-sd15") && $0.contains("kind: Deployment") })
        for needle in ["secretKeyRef:", "key: url", "terminationGracePeriodSeconds: 900", "path: /readyz", "path: /livez",
                       "claimName: sdfarm-storage", "image: localhost/sdfarm:latest", "namespace: sdfarm"] {
            #expect(worker.contains(needle), "the worker Deployment lacks \(needle)")
        }
        #expect(yaml.contains("- ReadWriteMany"))

        // The validator rejects a Deployment with a wrongly typed field.
        let broken = yaml.replacingOccurrences(of: "terminationGracePeriodSeconds: 900", with: "terminationGracePeriodSeconds: fifteen minutes")
        try broken.write(toFile: dir.path("broken.yaml"), atomically: true, encoding: .utf8)
        let bad = try DeployTools.run("kubernetes-validate", ["--strict", "--kubernetes-version", "1.30.0", dir.path("broken.yaml")])
        #expect(bad.status != 0, "\(bad.stdout)")
    }

    /// KEDA's CRDs are not in kubernetes-validate; this schema holds the fields KEDA's documentation
    /// (keda.sh/docs/2.x/reference/scaledobject-spec, scalers/postgresql) marks required for these two kinds.
    static let kedaSchema = #"""
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
         "required": ["apiVersion", "kind", "metadata", "spec"],
         "properties": {
           "apiVersion": {"const": "keda.sh/v1alpha1"},
           "kind": {"enum": ["ScaledObject", "TriggerAuthentication"]},
           "metadata": {"type": "object", "required": ["name", "namespace"]}},
         "if": {"properties": {"kind": {"const": "ScaledObject"}}},
         "then": {"properties": {"spec": {"type": "object", "required": ["scaleTargetRef", "triggers"],
           "properties": {
             "scaleTargetRef": {"type": "object", "required": ["name"]},
             "minReplicaCount": {"type": "integer", "minimum": 0}, "maxReplicaCount": {"type": "integer", "minimum": 1},
             "pollingInterval": {"type": "integer"}, "cooldownPeriod": {"type": "integer"},
             "triggers": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["type", "metadata"],
               "properties": {"type": {"const": "postgresql"},
                 "metadata": {"type": "object", "required": ["query", "targetQueryValue"], "additionalProperties": {"type": "string"}},
                 "authenticationRef": {"type": "object", "required": ["name"]}}}}}}}},
         "else": {"properties": {"spec": {"type": "object", "required": ["secretTargetRef"], "properties": {
             "secretTargetRef": {"type": "array", "items": {"type": "object", "required": ["parameter", "name", "key"]}}}}}}}
        """#

    @Test("the KEDA ScaledObject scales the worker Deployment on its model's queued + running jobs, read by a read-only role")
    func kedaScalerQueryRunsReadOnly() throws {
        let yaml = try Self.rendered()
        let dir = try ScratchDirectory(prefix: "sdfarm-keda")
        defer { dir.remove() }
        try Self.kedaSchema.write(toFile: dir.path("keda.json"), atomically: true, encoding: .utf8)
        let keda = Self.documents(yaml).filter { $0.contains("apiVersion: keda.sh/") }
        #expect(keda.count == 2)
        for (i, doc) in keda.enumerated() {
            try doc.write(toFile: dir.path("keda-\(i).yaml"), atomically: true, encoding: .utf8)
            let r = try DeployTools.run("check-jsonschema", ["--schemafile", dir.path("keda.json"), dir.path("keda-\(i).yaml")])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        }
        let scaled = try #require(keda.first { $0.contains("kind: ScaledObject") })
        #expect(scaled.contains("name: sdfarm-worker-sd15\n") && scaled.contains("type: postgresql"))
        // The query as committed (kustomize may fold the long line when it renders).
        let committed = try String(contentsOf: DeployTools.deploy.appendingPathComponent("k8s/keda-scaledobject.yaml"), encoding: .utf8)
        let queryLine = try #require(committed.split(separator: "\n").first { $0.contains(" query: ") })
        var query = String(queryLine.split(separator: "query: ", maxSplits: 1)[1])
        if query.hasPrefix("\"") || query.hasPrefix("'") { query = String(query.dropFirst().dropLast()) }
        query = query.replacingOccurrences(of: "''", with: "'")

        // The query on the real schema, as a role with only the grants secret.example.yaml lists.
        guard let base = ProcessInfo.processInfo.environment["DATABASE_URL"], !base.isEmpty else {
            Issue.record("DATABASE_URL is not set: run under scripts/with-postgres")
            return
        }
        let name = "sdfarm_keda_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try PostgresConnection(url: base)
        try admin.execute(script: "CREATE DATABASE \(name)")
        defer {
            _ = try? admin.execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE); DROP ROLE IF EXISTS \(name)_scaler")
            admin.close()
        }
        var components = try #require(URLComponents(string: base))
        components.path = "/" + name
        let owner = try PostgresConnection(url: components.string!)
        defer { owner.close() }
        try Migrator(directory: RepositoryPaths.migrations.path, logger: .init(label: "keda-test")).migrate(owner)
        try owner.execute(script: """
            CREATE ROLE \(name)_scaler LOGIN;
            GRANT CONNECT ON DATABASE \(name) TO \(name)_scaler;
            GRANT USAGE ON SCHEMA public TO \(name)_scaler;
            GRANT SELECT (state, model) ON jobs TO \(name)_scaler;
            """)
        components.user = "\(name)_scaler"
        let scaler = try PostgresConnection(url: components.string!)
        defer { scaler.close() }
        let count = try scaler.query(query)
        #expect(count.rows.count == 1 && count.rows[0][0] == "0", "\(count.rows)")
        #expect(throws: PostgresError.self) { try scaler.query("UPDATE jobs SET state = 'cancelled'") }
        #expect(throws: PostgresError.self) { try scaler.query("SELECT prompt FROM jobs") }
    }

    @Test("deploy/compose.yaml satisfies the compose specification and has what the issue asks; a broken copy does not")
    func composeFileValidates() throws {
        let file = DeployTools.deploy.appendingPathComponent("compose.yaml")
        let r = try DeployTools.run("check-jsonschema", ["--builtin-schema", "vendor.compose-spec", file.path])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let text = try String(contentsOf: file, encoding: .utf8)
        for needle in ["pg_isready", "condition: service_healthy", "condition: service_completed_successfully", "stop_grace_period: 10m",
                       "storage:/srv/sdfarm/storage", "models:/srv/sdfarm/models:ro", "SDFARM_DATABASE_PASSWORD_FILE", "command: [\"sdfarm\", \"migrate\"]"] {
            #expect(text.contains(needle), "compose.yaml lacks \(needle)")
        }
        let dir = try ScratchDirectory(prefix: "sdfarm-compose")
        defer { dir.remove() }
        try text.replacingOccurrences(of: "stop_grace_period: 10m", with: "stop_grace_period: [10m]")
            .write(toFile: dir.path("compose.yaml"), atomically: true, encoding: .utf8)
        let bad = try DeployTools.run("check-jsonschema", ["--builtin-schema", "vendor.compose-spec", dir.path("compose.yaml")])
        #expect(bad.status != 0, "\(bad.stdout)")
    }
}
