-- Single sign-on (issue 18): who a provider's subject is here, the sign-ins
-- under way, and which organisations still sign in with a password.
-- Keep in step with the other backend's 0029_single_sign_on.sql.

-- A provider's subject (its `sub` claim) stands for one local account. The
-- organisation and roles stay the product's own, set by an administrator.
CREATE TABLE user_identities (
    provider        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    linked_at       TEXT NOT NULL,
    linked_by       TEXT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX user_identities_by_user ON user_identities (user_id);

-- A sign-in sent to a provider and not yet back: the `state` (hashed, as a
-- session token is), the `nonce` and the PKCE verifier it must come back
-- with. Taken out when it comes back, so a `state` works once.
CREATE TABLE sign_in_flows (
    state_hash      TEXT PRIMARY KEY,
    provider        TEXT NOT NULL,
    nonce           TEXT NOT NULL,
    pkce_verifier   TEXT NOT NULL,
    next            TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);

-- False: the organisation's users sign in through an identity provider only.
ALTER TABLE organisations ADD COLUMN password_sign_in BOOLEAN NOT NULL DEFAULT TRUE;
