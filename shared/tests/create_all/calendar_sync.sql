-- The DDL `metadata.create_all` makes for calendar_sync at its baseline revision (the service
-- never ran without migrations; kept so that adoption is tested like every service's).

CREATE TABLE calendars (
	uuid UUID NOT NULL,
	account_id INTEGER NOT NULL,
	platform VARCHAR NOT NULL,
	provider_calendar_id VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	email VARCHAR NOT NULL,
	client_id VARCHAR NOT NULL,
	sealed_client_secret VARCHAR NOT NULL,
	sealed_refresh_token VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	status_message VARCHAR,
	window_days INTEGER NOT NULL,
	sync_cursor VARCHAR,
	cursor_window_end TIMESTAMP WITH TIME ZONE,
	sync_requested_at TIMESTAMP WITH TIME ZONE,
	full_sync_wanted BOOLEAN NOT NULL,
	sync_failures INTEGER NOT NULL,
	last_sync_error VARCHAR,
	next_sync_at TIMESTAMP WITH TIME ZONE NOT NULL,
	last_synced_at TIMESTAMP WITH TIME ZONE,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (uuid),
	CONSTRAINT uq_calendars_account_provider_calendar UNIQUE (account_id, platform, provider_calendar_id)
);

CREATE INDEX ix_calendars_account_id ON calendars (account_id);

CREATE INDEX ix_calendars_next_sync_at ON calendars (next_sync_at);

CREATE INDEX ix_calendars_sync_requested_at ON calendars (sync_requested_at);

CREATE TABLE outbox (
	id BIGINT GENERATED ALWAYS AS IDENTITY,
	event_id UUID NOT NULL,
	subject VARCHAR NOT NULL,
	payload JSONB NOT NULL,
	trace_context JSONB NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (event_id)
);

CREATE TABLE calendar_events (
	uuid UUID NOT NULL,
	calendar_uuid UUID NOT NULL,
	account_id INTEGER NOT NULL,
	provider_event_id VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	start_time TIMESTAMP WITH TIME ZONE NOT NULL,
	end_time TIMESTAMP WITH TIME ZONE NOT NULL,
	meeting_url VARCHAR NOT NULL,
	attendees JSONB NOT NULL,
	organizer_email VARCHAR,
	is_organizer BOOLEAN NOT NULL,
	is_recurring BOOLEAN NOT NULL,
	recurring_event_id VARCHAR,
	deleted BOOLEAN NOT NULL,
	raw JSONB NOT NULL,
	last_updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	bot_param JSONB,
	PRIMARY KEY (uuid),
	CONSTRAINT uq_calendar_events_provider_event UNIQUE (calendar_uuid, provider_event_id),
	FOREIGN KEY(calendar_uuid) REFERENCES calendars (uuid) ON DELETE CASCADE
);

CREATE INDEX ix_calendar_events_account_id ON calendar_events (account_id);

CREATE INDEX ix_calendar_events_calendar_start ON calendar_events (calendar_uuid, start_time, uuid);

CREATE INDEX ix_calendar_events_last_updated_at ON calendar_events (last_updated_at);

CREATE TABLE push_channels (
	channel_id VARCHAR NOT NULL,
	calendar_uuid UUID NOT NULL,
	token_sha256 VARCHAR NOT NULL,
	resource_id VARCHAR,
	expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (channel_id),
	FOREIGN KEY(calendar_uuid) REFERENCES calendars (uuid) ON DELETE CASCADE
);

CREATE INDEX ix_push_channels_calendar_uuid ON push_channels (calendar_uuid);
