-- The DDL `metadata.create_all` ran for api_gateway before its Alembic history existed
-- (captured from the models at the baseline revision; never regenerate it).

CREATE TABLE accounts (
	id SERIAL NOT NULL,
	name VARCHAR NOT NULL,
	webhook_url VARCHAR,
	webhook_secret VARCHAR NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE api_keys (
	id SERIAL NOT NULL,
	account_id INTEGER NOT NULL,
	prefix VARCHAR NOT NULL,
	key_hash VARCHAR NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	revoked_at TIMESTAMP WITH TIME ZONE,
	PRIMARY KEY (id),
	FOREIGN KEY(account_id) REFERENCES accounts (id)
);

CREATE INDEX ix_api_keys_account_id ON api_keys (account_id);

CREATE UNIQUE INDEX ix_api_keys_key_hash ON api_keys (key_hash);

CREATE INDEX ix_api_keys_prefix ON api_keys (prefix);
