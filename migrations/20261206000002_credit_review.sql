-- Credit review (信审审核): a submitted application is reviewed in stages (初审 / 复审 / 终审) by the
-- workflow its amount routes it to; a reviewer may send it back for more documents (补件), after
-- which the filer resubmits it into the same stage; it ends approved, or rejected with a reason code.
ALTER TABLE applications DROP CONSTRAINT applications_status_check;
ALTER TABLE applications ADD CONSTRAINT applications_status_check
    CHECK (status IN ('draft', 'submitted', 'returned', 'approved', 'rejected', 'withdrawn'));
ALTER TABLE applications
    ADD COLUMN review_instance_id bigint REFERENCES workflow_instances (id),
    ADD COLUMN reject_reason text;

-- The filer's side of the application's progress (the reviewers' is the workflow's history).
CREATE TABLE application_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id  bigint NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    action          text NOT NULL,
    user_id         bigint REFERENCES users (id),
    note            text,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX application_events_application ON application_events (application_id, id);
