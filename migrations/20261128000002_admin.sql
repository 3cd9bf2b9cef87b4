-- The admin foundation: regions, permissions, roles, positions, users and their sessions, the
-- append-only audit log, the settings store, idempotency keys and the workflow engine.

-- Regions form a tree (company → province → city → branch). `path` is the chain of ids from the
-- root ('/1/4/9/'), kept by a trigger, so "in the caller's subtree" is one prefix test.
CREATE TABLE regions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id   bigint REFERENCES regions (id),
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('company', 'province', 'city', 'branch')),
    path        text NOT NULL DEFAULT '',
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX regions_path ON regions (path text_pattern_ops);

CREATE FUNCTION leasewatch_region_path() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_id IS NULL THEN
        NEW.path := '/' || NEW.id || '/';
    ELSE
        SELECT path || NEW.id || '/' INTO NEW.path FROM regions WHERE id = NEW.parent_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER regions_path BEFORE INSERT ON regions FOR EACH ROW EXECUTE FUNCTION leasewatch_region_path();

INSERT INTO regions (code, name, level) VALUES ('HQ', 'Head office', 'company');

-- The permission catalogue is defined in code and synchronised here at start-up.
CREATE TABLE permissions (
    name        text PRIMARY KEY,
    description text NOT NULL
);

CREATE TABLE roles (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    -- The built-in administrator role is granted every permission at each start-up.
    builtin     boolean NOT NULL DEFAULT false,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE role_permissions (
    role_id     bigint NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission  text NOT NULL REFERENCES permissions (name) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission)
);

-- Staff positions (岗位) are what workflow stages are assigned to (`positions` holds GPS fixes).
CREATE TABLE staff_positions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username        text NOT NULL,
    display_name    text NOT NULL,
    password_hash   text NOT NULL,
    -- AES-GCM sealed (nonce || ciphertext); never stored in clear.
    phone_sealed    bytea,
    region_id       bigint NOT NULL REFERENCES regions (id),
    active          boolean NOT NULL DEFAULT true,
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE user_roles (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id     bigint NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);

CREATE TABLE user_positions (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position_id bigint NOT NULL REFERENCES staff_positions (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, position_id)
);

-- A login session: the SHA-256 of its access and refresh tokens (the tokens themselves are never stored).
CREATE TABLE auth_sessions (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_hash         bytea NOT NULL UNIQUE,
    refresh_hash        bytea NOT NULL UNIQUE,
    access_expires_at   timestamptz NOT NULL,
    refresh_expires_at  timestamptz NOT NULL,
    revoked_at          timestamptz,
    client_addr         text,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id) WHERE revoked_at IS NULL;

-- Who did what to which entity, before and after. Append-only: the trigger below refuses
-- updates, deletes and truncation whatever the role.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    user_id     bigint,
    username    text,
    action      text NOT NULL,
    entity_type text NOT NULL,
    entity_id   text,
    region_id   bigint,
    before      jsonb,
    after       jsonb,
    request_id  text,
    client_addr text
);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, at);
CREATE INDEX audit_log_user ON audit_log (user_id, at);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE FUNCTION leasewatch_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION leasewatch_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION leasewatch_audit_append_only();

-- Tunable parameters; the catalogue (types, bounds, defaults) is in code.
CREATE TABLE settings (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    version     integer NOT NULL DEFAULT 1,
    updated_by  bigint REFERENCES users (id),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The first response to a POST carrying an Idempotency-Key, replayed to its retries.
-- status is NULL while the first request is still running.
CREATE TABLE idempotency_keys (
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    status          smallint,
    content_type    text,
    body            bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

-- Workflow definitions are versioned: editing one adds a version; running instances keep theirs.
CREATE TABLE workflow_definitions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         text NOT NULL,
    version     integer NOT NULL,
    name        text NOT NULL,
    -- [{"name", "position", "actions": [...], "sla_hours"}], validated in code.
    stages      jsonb NOT NULL,
    created_by  bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (key, version)
);

CREATE TABLE workflow_instances (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    definition_id   bigint NOT NULL REFERENCES workflow_definitions (id),
    subject_type    text NOT NULL,
    subject_id      text NOT NULL,
    title           text NOT NULL,
    region_id       bigint NOT NULL REFERENCES regions (id),
    maker_id        bigint NOT NULL REFERENCES users (id),
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'approved', 'rejected', 'cancelled')),
    stage           integer NOT NULL DEFAULT 0,
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX workflow_instances_subject ON workflow_instances (subject_type, subject_id);

CREATE TABLE workflow_tasks (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id     bigint NOT NULL REFERENCES workflow_instances (id),
    stage           integer NOT NULL,
    position_code   text NOT NULL,
    assignee_id     bigint REFERENCES users (id),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
    due_at          timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    completed_by    bigint REFERENCES users (id),
    outcome         text
);
-- An instance waits on one stage at a time.
CREATE UNIQUE INDEX workflow_tasks_one_open ON workflow_tasks (instance_id) WHERE status = 'open';
CREATE INDEX workflow_tasks_open_position ON workflow_tasks (position_code) WHERE status = 'open';

CREATE TABLE workflow_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id bigint NOT NULL REFERENCES workflow_instances (id),
    task_id     bigint REFERENCES workflow_tasks (id),
    stage       integer NOT NULL,
    action      text NOT NULL,
    actor_id    bigint NOT NULL REFERENCES users (id),
    note        text,
    to_stage    integer,
    to_user_id  bigint REFERENCES users (id),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflow_history_instance ON workflow_history (instance_id, id);
