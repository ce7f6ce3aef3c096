-- The DDL `metadata.create_all` ran for transcriber before its Alembic history existed
-- (captured from the models at the baseline revision; never regenerate it).

CREATE TABLE transcripts (
	id SERIAL NOT NULL,
	bot_id UUID NOT NULL,
	provider VARCHAR NOT NULL,
	is_current BOOLEAN NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_transcripts_bot_id ON transcripts (bot_id);

CREATE TABLE transcript_segments (
	id SERIAL NOT NULL,
	transcript_id INTEGER NOT NULL,
	position INTEGER NOT NULL,
	speaker VARCHAR NOT NULL,
	start_time FLOAT NOT NULL,
	end_time FLOAT NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(transcript_id) REFERENCES transcripts (id)
);

CREATE INDEX ix_transcript_segments_transcript_id ON transcript_segments (transcript_id);

CREATE TABLE transcript_words (
	id SERIAL NOT NULL,
	segment_id INTEGER NOT NULL,
	position INTEGER NOT NULL,
	start FLOAT NOT NULL,
	"end" FLOAT NOT NULL,
	word VARCHAR NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(segment_id) REFERENCES transcript_segments (id)
);

CREATE INDEX ix_transcript_words_segment_id ON transcript_words (segment_id);
