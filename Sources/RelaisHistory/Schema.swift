import GRDB

/// The schema, as GRDB migrations: each is applied once, in order, inside a transaction, and
/// recorded in `grdb_migrations`, so a database from an older relay is upgraded at open and a
/// crash during an upgrade leaves the previous schema intact. Never edit a shipped migration;
/// append a new one.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            // Times are integer milliseconds since 1970 (StoredTime). Rows reference consultations
            // by id without a foreign key: an audit row must be kept even when it names a
            // consultation the store never saw start (a write lost to a crash, a caller bug).
            try db.execute(
                sql: """
                    CREATE TABLE consultation (
                        id TEXT PRIMARY KEY NOT NULL,
                        room TEXT NOT NULL,
                        started_at INTEGER NOT NULL,
                        ended_at INTEGER,
                        end_reason TEXT
                    );
                    CREATE INDEX consultation_started ON consultation(started_at);
                    CREATE INDEX consultation_room_started ON consultation(room, started_at);
                    CREATE INDEX consultation_ended ON consultation(ended_at);

                    -- One row per join: a participant who rejoins gets a new row.
                    CREATE TABLE participant (
                        seq INTEGER PRIMARY KEY,
                        consultation TEXT NOT NULL,
                        participant TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        name TEXT NOT NULL,
                        role TEXT NOT NULL,
                        joined_at INTEGER NOT NULL,
                        left_at INTEGER,
                        leave_reason TEXT
                    );
                    CREATE INDEX participant_consultation ON participant(consultation, participant, joined_at);

                    CREATE TABLE camera_command (
                        seq INTEGER PRIMARY KEY,
                        at INTEGER NOT NULL,
                        room TEXT NOT NULL,
                        consultation TEXT,
                        participant TEXT NOT NULL,
                        camera TEXT NOT NULL,
                        command TEXT NOT NULL,
                        result TEXT NOT NULL,
                        detail TEXT
                    );
                    CREATE INDEX camera_command_at ON camera_command(at);
                    CREATE INDEX camera_command_room_at ON camera_command(room, at);

                    CREATE TABLE audit_error (
                        seq INTEGER PRIMARY KEY,
                        at INTEGER NOT NULL,
                        room TEXT,
                        consultation TEXT,
                        participant TEXT,
                        code TEXT NOT NULL,
                        message TEXT NOT NULL
                    );
                    CREATE INDEX audit_error_at ON audit_error(at);
                    CREATE INDEX audit_error_room_at ON audit_error(room, at);
                    """)
        }
        return migrator
    }
}
