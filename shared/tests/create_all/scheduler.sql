-- The DDL `metadata.create_all` ran for scheduler before its Alembic history existed
-- (captured from the models at the baseline revision; never regenerate it).

CREATE TABLE bots (
	id SERIAL NOT NULL,
	bot_id UUID NOT NULL,
	account_id INTEGER NOT NULL,
	params JSONB NOT NULL,
	status VARCHAR NOT NULL,
	error VARCHAR,
	reason VARCHAR,
	message VARCHAR,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	due_at TIMESTAMP WITH TIME ZONE NOT NULL,
	dispatched_at TIMESTAMP WITH TIME ZONE,
	joined_at TIMESTAMP WITH TIME ZONE,
	exited_at TIMESTAMP WITH TIME ZONE,
	ended_at TIMESTAMP WITH TIME ZONE,
	last_seen_at TIMESTAMP WITH TIME ZONE,
	runner_id VARCHAR,
	artifacts JSONB NOT NULL,
	duration_s FLOAT NOT NULL,
	speakers JSONB NOT NULL,
	recording_uploaded BOOLEAN NOT NULL,
	data_deleted_at TIMESTAMP WITH TIME ZONE,
	transcription_finished BOOLEAN NOT NULL,
	has_transcript BOOLEAN NOT NULL,
	transcription_error VARCHAR,
	trace_context JSONB NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_bots_account_id ON bots (account_id);

CREATE INDEX ix_bots_due_at ON bots (due_at);

CREATE INDEX ix_bots_status ON bots (status);

CREATE UNIQUE INDEX ix_bots_bot_id ON bots (bot_id);

CREATE INDEX ix_bots_account_created ON bots (account_id, created_at, id);

CREATE TABLE bot_status_history (
	id SERIAL NOT NULL,
	bot_pk INTEGER NOT NULL,
	status VARCHAR NOT NULL,
	at TIMESTAMP WITH TIME ZONE NOT NULL,
	error VARCHAR,
	reason VARCHAR,
	message VARCHAR,
	PRIMARY KEY (id),
	FOREIGN KEY(bot_pk) REFERENCES bots (id)
);

CREATE INDEX ix_bot_status_history_bot_pk ON bot_status_history (bot_pk);
