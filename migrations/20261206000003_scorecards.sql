-- Scorecards (打分卡管理): versioned per code; one champion decides, a challenger may score in its
-- shadow. Every evaluation is kept with its inputs and the version that made it.
CREATE TABLE scorecards (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL,
    version     integer NOT NULL,
    name        text NOT NULL,
    card        jsonb NOT NULL,
    role        text NOT NULL DEFAULT 'retired' CHECK (role IN ('champion', 'challenger', 'retired')),
    created_by  bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (code, version)
);
-- One champion and at most one challenger at a time.
CREATE UNIQUE INDEX scorecards_one_champion ON scorecards (role) WHERE role IN ('champion', 'challenger');

CREATE TABLE scorecard_evaluations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id  bigint NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    scorecard_id    bigint NOT NULL REFERENCES scorecards (id),
    role            text NOT NULL CHECK (role IN ('champion', 'challenger')),
    inputs          jsonb NOT NULL,
    score           integer NOT NULL,
    decision        text NOT NULL CHECK (decision IN ('approve', 'refer', 'decline')),
    reasons         jsonb NOT NULL,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scorecard_evaluations_application ON scorecard_evaluations (application_id, id);
ALTER TABLE applications ADD COLUMN score integer, ADD COLUMN score_decision text;
