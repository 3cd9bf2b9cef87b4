-- Repayment reminders and overdue notices by SMS (还款提醒 / 逾期通知): the stages the company sends
-- at (days from the due date: -3 before, 0 on the day, 1 and 7 after...), each with its text; each
-- message kept once per installment and stage with its delivery; customers who opted out get none.
CREATE TABLE reminder_stages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Days from the due date: negative before it.
    offset_days  integer NOT NULL UNIQUE CHECK (offset_days BETWEEN -30 AND 90),
    -- With {customer_name}, {contract_number}, {amount}, {due_date}.
    template     text NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    version      integer NOT NULL DEFAULT 1
);

CREATE TABLE sms_messages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id   bigint NOT NULL REFERENCES contracts (id),
    period        integer NOT NULL,
    offset_days   integer NOT NULL,
    text          text NOT NULL,
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'delivered', 'failed')),
    provider_id   text,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    delivered_at  timestamptz,
    -- Once per installment and stage, however often the job runs.
    UNIQUE (contract_id, period, offset_days)
);
CREATE INDEX sms_messages_provider ON sms_messages (provider_id) WHERE provider_id IS NOT NULL;

ALTER TABLE customers ADD COLUMN sms_opt_out boolean NOT NULL DEFAULT false;

-- Messages the jobs send are contacts too (they count against the day's cap), made by no user.
ALTER TABLE collection_contacts ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE collection_contacts DROP CONSTRAINT collection_contacts_result_check;
ALTER TABLE collection_contacts ADD CONSTRAINT collection_contacts_result_check
    CHECK (result IN ('connected', 'no_answer', 'switched_off', 'wrong_number', 'refused', 'third_party', 'sent'));
