-- Invite codes: an admin or staff member creates one; the person invited redeems it once,
-- choosing their own username and password. Only a hash of the code is stored.
CREATE TABLE invites (
    code_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'customer')),
    org_id INTEGER REFERENCES orgs(id),
    created_by INTEGER NOT NULL REFERENCES members(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_by INTEGER REFERENCES members(id),
    used_at INTEGER
);
