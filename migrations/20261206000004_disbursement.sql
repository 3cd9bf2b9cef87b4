-- From approval to money out: the contract generated from an approved application, the
-- pre-disbursement checks (贷前审核), the disbursement request approved by finance (放款), after
-- which the contract is active.
ALTER TABLE applications DROP CONSTRAINT applications_status_check;
ALTER TABLE applications ADD CONSTRAINT applications_status_check
    CHECK (status IN ('draft', 'submitted', 'returned', 'approved', 'rejected', 'withdrawn', 'contracted',
                      'disbursement_pending', 'disbursed'));
ALTER TABLE applications ADD COLUMN contract_id bigint REFERENCES contracts (id);
CREATE UNIQUE INDEX applications_contract ON applications (contract_id) WHERE contract_id IS NOT NULL;
