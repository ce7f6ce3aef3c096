-- The DDL `metadata.create_all` ran for webhook_dispatcher before its Alembic history existed
-- (captured from the models at the baseline revision; never regenerate it).

CREATE TABLE bot_targets (
	bot_id UUID NOT NULL,
	account_id INTEGER NOT NULL,
	url VARCHAR,
	api_key VARCHAR NOT NULL,
	signing_secret VARCHAR,
	extra JSONB,
	final_sent BOOLEAN NOT NULL,
	PRIMARY KEY (bot_id)
);

CREATE INDEX ix_bot_targets_account_id ON bot_targets (account_id);

CREATE TABLE deliveries (
	id SERIAL NOT NULL,
	webhook_id UUID NOT NULL,
	bot_id UUID NOT NULL,
	account_id INTEGER,
	event VARCHAR NOT NULL,
	url VARCHAR,
	payload JSONB NOT NULL,
	file_keys JSONB NOT NULL,
	state VARCHAR NOT NULL,
	attempts INTEGER NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	next_attempt_at TIMESTAMP WITH TIME ZONE,
	delivered_at TIMESTAMP WITH TIME ZONE,
	PRIMARY KEY (id)
);

CREATE UNIQUE INDEX ix_deliveries_webhook_id ON deliveries (webhook_id);

CREATE INDEX ix_deliveries_bot_id ON deliveries (bot_id);

CREATE INDEX ix_deliveries_state ON deliveries (state);

CREATE INDEX ix_deliveries_account_id ON deliveries (account_id);

CREATE INDEX ix_deliveries_next_attempt_at ON deliveries (next_attempt_at);

CREATE TABLE gone_endpoints (
	account_id INTEGER NOT NULL,
	url VARCHAR NOT NULL,
	gone_at TIMESTAMP WITH TIME ZONE NOT NULL,
	webhook_id UUID NOT NULL,
	PRIMARY KEY (account_id, url)
);

CREATE TABLE delivery_attempts (
	id SERIAL NOT NULL,
	delivery_id INTEGER NOT NULL,
	number INTEGER NOT NULL,
	started_at TIMESTAMP WITH TIME ZONE NOT NULL,
	duration_ms INTEGER NOT NULL,
	status_code INTEGER,
	error VARCHAR,
	response_excerpt VARCHAR,
	PRIMARY KEY (id),
	FOREIGN KEY(delivery_id) REFERENCES deliveries (id)
);

CREATE INDEX ix_delivery_attempts_delivery_id ON delivery_attempts (delivery_id);
