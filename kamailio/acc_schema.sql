-- The accounting spool Kamailio writes (data/kamailio-acc.sqlite); the pipeline reads it by id.
-- One row per call attempt, written at the end of the dialog (or at the final failure).
-- AUTOINCREMENT: ids are never reused, so "id > watermark" never skips a row.
-- Times are Unix epoch seconds with microseconds ($TV(Sn)).
create table if not exists cdr (
    id integer primary key autoincrement,
    call_id text not null,
    tenant text,              -- SIP domain of the tenant the call belongs to
    direction text,           -- internal | inbound | outbound (as routed)
    caller text,              -- From user part
    caller_name text,         -- From display name
    caller_domain text,
    callee text,              -- dialed number / extension (R-URI user at arrival)
    callee_domain text,
    answered_by text,         -- extension (or target user) that answered, NULL if none
    invite_at real not null,  -- INVITE received
    answer_at real,           -- 200 OK forwarded, NULL if never answered
    end_at real not null,     -- BYE, CANCEL or final failure
    sip_code integer not null,
    sip_reason text,
    disposition_hint text,    -- what routing knew: answered | failed | blocked | refused
    rule text,                -- answering rule that decided, NULL when none
    frame text,               -- time frame that decided, NULL when none
    src_ip text,
    user_agent text,
    origin_call_id text,      -- a leg the media server placed: Call-ID of the call it bridges
    -- policy said "always": started (rtpengine took the offer) | missing (rtpengine failed,
    -- the call went on with direct media, unrecorded); NULL when no recording was asked
    recording_outcome text
);
