import GRDB

/// The versioned schema. Append new migrations; never edit one that has shipped.
enum SQLiteMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1_sessions_messages") { db in
            try db.create(table: "sessions") { table in
                table.primaryKey("id", .text)
                table.column("key", .text).notNull().unique()
                table.column("channel", .text).notNull()
                table.column("peer", .text).notNull()
                table.column("created_at", .datetime).notNull()
                table.column("updated_at", .datetime).notNull()
            }
            try db.create(table: "messages") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("message_id", .text).notNull().unique()
                table.column("session_id", .text).notNull().references("sessions", onDelete: .cascade).indexed()
                table.column("role", .text).notNull()
                table.column("author", .text).notNull()
                table.column("content", .text).notNull()
                table.column("created_at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v2_control_tokens") { db in
            try db.create(table: "control_tokens") { table in
                table.primaryKey("id", .text)
                table.column("name", .text).notNull()
                table.column("token_hash", .text).notNull().unique()
                table.column("created_at", .datetime).notNull()
                table.column("expires_at", .datetime)
                table.column("revoked_at", .datetime)
                table.column("last_used_at", .datetime)
            }
        }
        migrator.registerMigration("v3_audit_log") { db in
            try db.create(table: "audit_log") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("event_type", .text).notNull().indexed()
                table.column("user_id", .text)
                table.column("ip_address", .text)
                table.column("user_agent", .text)
                table.column("payload", .jsonText).notNull()
                table.column("created_at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v4_message_path") { db in
            try db.create(table: "ingress_journal") { table in
                table.primaryKey("id", .text)
                table.column("channel", .text).notNull()
                table.column("external_id", .text)
                table.column("session_key", .text).notNull()
                table.column("session_id", .text).notNull()
                table.column("peer", .text).notNull()
                table.column("sender", .text).notNull()
                table.column("text", .text).notNull()
                table.column("reply_target", .text).notNull()
                table.column("status", .text).notNull()
                table.column("attempts", .integer).notNull().defaults(to: 0)
                table.column("error", .text)
                table.column("received_at", .datetime).notNull()
                table.column("finished_at", .datetime)
                table.uniqueKey(["channel", "external_id"])
            }
            try db.execute(sql: "CREATE INDEX ingress_journal_pending ON ingress_journal(received_at) WHERE status = 'pending'")
            try db.create(table: "outbox") { table in
                table.primaryKey("id", .text)
                table.column("message_id", .text).notNull().indexed()
                table.column("session_id", .text).notNull()
                table.column("reply_message_id", .text).notNull()
                table.column("channel", .text).notNull()
                table.column("target", .text).notNull()
                table.column("body", .text).notNull()
                table.column("kind", .text).notNull()
                table.column("status", .text).notNull()
                table.column("attempts", .integer).notNull().defaults(to: 0)
                table.column("last_error", .text)
                table.column("meta", .jsonText).notNull()
                table.column("next_attempt_at", .datetime).notNull()
                table.column("created_at", .datetime).notNull()
                table.column("sent_at", .datetime)
            }
            try db.execute(sql: "CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'pending'")
            try db.create(table: "trace_events") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("message_id", .text).notNull().indexed()
                table.column("hop", .text).notNull()
                table.column("at", .datetime).notNull()
                table.column("duration_ms", .double)
                table.column("detail", .jsonText).notNull()
            }
            try db.create(table: "model_usage") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("message_id", .text).notNull().indexed()
                table.column("session_id", .text).notNull()
                table.column("provider", .text).notNull()
                table.column("model", .text).notNull()
                table.column("input_tokens", .integer).notNull()
                table.column("output_tokens", .integer).notNull()
                table.column("latency_ms", .double).notNull()
                table.column("ok", .boolean).notNull()
                table.column("at", .datetime).notNull()
            }
            try db.alter(table: "sessions") { table in
                table.add(column: "model_override", .text)
                table.add(column: "context_start", .integer).notNull().defaults(to: 0)
                table.add(column: "summary", .text)
                table.add(column: "summary_through", .integer).notNull().defaults(to: 0)
                table.add(column: "last_reset_at", .datetime)
            }
        }
        migrator.registerMigration("v5_message_traces") { db in
            // One row per message instead of one per hop: the hops as JSON lines, appended by each trace flush.
            // A row per hop was about a sixth of the gateway's CPU under load (six inserts and index entries a message).
            try db.execute(
                sql: """
                    CREATE TABLE message_traces (
                        message_id TEXT NOT NULL UNIQUE,
                        started_at TEXT NOT NULL,
                        hops TEXT NOT NULL
                    );
                    INSERT INTO message_traces (message_id, started_at, hops)
                    SELECT message_id, MIN(at), group_concat(line, char(10)) FROM (
                        SELECT message_id, at, json_object('hop', hop, 'at', at, 'ms', duration_ms, 'detail', json(detail)) AS line
                        FROM trace_events ORDER BY message_id, at, id
                    ) GROUP BY message_id;
                    DROP TABLE trace_events;
                    """)
        }
        migrator.registerMigration("v6_plugin_store") { db in
            try db.execute(
                sql: """
                    CREATE TABLE plugin_kv (
                        plugin TEXT NOT NULL,
                        key TEXT NOT NULL,
                        value TEXT NOT NULL,
                        updated_at TEXT NOT NULL,
                        PRIMARY KEY (plugin, key)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v7_pairing") { db in
            try db.execute(
                sql: """
                    CREATE TABLE pairing (
                        channel TEXT NOT NULL,
                        sender TEXT NOT NULL,
                        code TEXT,
                        state TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        expires_at TEXT,
                        decided_at TEXT,
                        decided_by TEXT,
                        PRIMARY KEY (channel, sender)
                    ) WITHOUT ROWID;
                    CREATE INDEX pairing_by_code ON pairing (channel, code);
                    """)
        }
        migrator.registerMigration("v8_turn_transcript") { db in
            // A message now enters the transcript with its turn, not when it is journaled: the transcript rows
            // of messages still waiting would otherwise appear twice (and out of order) in their turn's context.
            try db.execute(
                sql: """
                    ALTER TABLE ingress_journal ADD COLUMN answered_by TEXT;
                    DELETE FROM messages WHERE message_id IN (SELECT id FROM ingress_journal WHERE status = 'pending');
                    """)
        }
        return migrator
    }
}
