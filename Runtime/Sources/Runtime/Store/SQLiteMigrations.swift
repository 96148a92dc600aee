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
        return migrator
    }
}
