/* rtcp: RTCP compound parsing, feedback messages, builders and receive statistics. */
#ifndef CW_RTC_RTCP_H
#define CW_RTC_RTCP_H

/*
 * Like rtp.h this runs per packet: no allocation, no I/O, no clock (times are passed
 * in). Parsers return views into the caller's buffer; builders write one RTCP packet into
 * a caller buffer, and a compound is built by calling several at increasing offsets.
 *
 * Errors are negative errno values:
 *   -EBADMSG  the bytes are not a well-formed packet
 *   -EINVAL   the packet is not of the type the function reads, or an argument is out
 *             of range (too many report blocks, an empty list, a long CNAME)
 *   -ENOENT   an index past the end of a list, or nothing to compute from
 *   -ENOSPC   the output buffer (or output array) is too small
 *
 * References: RFC 3550 (SR, RR, SDES, BYE, APP, statistics in appendix A), RFC 4585
 * (feedback: generic NACK, PLI), RFC 5104 (FIR), RFC 5506 (reduced size: a feedback
 * packet alone is accepted), draft-alvestrand-rmcat-remb (REMB) and
 * draft-holmer-rmcat-transport-wide-cc-extensions (transport-cc feedback).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Packet types. */
#define CW_RTCP_SR 200
#define CW_RTCP_RR 201
#define CW_RTCP_SDES 202
#define CW_RTCP_BYE 203
#define CW_RTCP_APP 204
#define CW_RTCP_RTPFB 205 /* transport layer feedback */
#define CW_RTCP_PSFB 206  /* payload-specific feedback */

/* Feedback message types (the FMT field). */
#define CW_RTCP_FMT_NACK 1  /* RTPFB */
#define CW_RTCP_FMT_TWCC 15 /* RTPFB */
#define CW_RTCP_FMT_PLI 1   /* PSFB */
#define CW_RTCP_FMT_FIR 4   /* PSFB */
#define CW_RTCP_FMT_AFB 15  /* PSFB, application layer: REMB */

#define CW_RTCP_HEADER_LEN 4
#define CW_RTCP_REPORT_BLOCKS_MAX 31 /* the 5-bit count */
#define CW_RTCP_BLOCK_LEN 24	     /* one report block */

/* One packet of a compound. */
struct cw_rtcp {
	uint8_t pt;
	uint8_t count; /* the 5-bit RC, SC or FMT field */
	bool padding;
	const uint8_t *buf;  /* the packet, from its common header */
	size_t len;	     /* its length including header and padding */
	const uint8_t *body; /* after the 4-byte common header */
	size_t body_len;     /* without padding */
};

/* Iteration state over a compound packet; fields are private. */
struct cw_rtcp_iter {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

/* What a packet is, for dispatching. */
enum cw_rtcp_kind {
	CW_RTCP_KIND_UNKNOWN, /* anything else (XR, other feedback): skip it */
	CW_RTCP_KIND_SR,
	CW_RTCP_KIND_RR,
	CW_RTCP_KIND_SDES,
	CW_RTCP_KIND_BYE,
	CW_RTCP_KIND_APP,
	CW_RTCP_KIND_NACK,
	CW_RTCP_KIND_TWCC,
	CW_RTCP_KIND_PLI,
	CW_RTCP_KIND_FIR,
	CW_RTCP_KIND_REMB,
};

/* Starts iterating the compound buf[0..len). */
void cw_rtcp_iter_init(struct cw_rtcp_iter *it, const uint8_t *buf, size_t len);

/* The next packet: returns 1 with *pkt filled, 0 at the end, -EBADMSG (and ends the
 * iteration) when the rest is not a packet: shorter than a header, a version other than
 * 2, a length past the end, or padding whose count is 0 or longer than the packet. */
int cw_rtcp_next(struct cw_rtcp_iter *it, struct cw_rtcp *pkt);

/* Checks a whole compound before acting on any of it: at least one packet, and every
 * packet valid for cw_rtcp_next() with their lengths adding up to len exactly. The
 * first packet need not be a report (RFC 5506 reduced-size RTCP). Returns 0 or -EBADMSG. */
int cw_rtcp_validate(const uint8_t *buf, size_t len);

/* Classifies pkt by its type, FMT and, for application feedback, the "REMB" tag. */
enum cw_rtcp_kind cw_rtcp_kind(const struct cw_rtcp *pkt);

/* ---- sender and receiver reports ---- */

struct cw_rtcp_sender_info {
	uint64_t ntp; /* NTP timestamp: seconds since 1900 << 32 | fraction */
	uint32_t rtp_ts;
	uint32_t packets;
	uint32_t octets;
};

struct cw_rtcp_report_block {
	uint32_t ssrc;		 /* the source reported on */
	uint8_t fraction_lost;	 /* lost / expected since the last report, x 256 */
	int32_t cumulative_lost; /* 24-bit signed: duplicates can make it negative */
	uint32_t ext_high_seq;	 /* cycles << 16 | highest sequence number */
	uint32_t jitter;	 /* interarrival jitter in timestamp units */
	uint32_t lsr;		 /* middle 32 bits of the last SR's NTP time, 0 = none */
	uint32_t dlsr;		 /* delay since that SR in 1/65536 s */
};

/* A parsed SR or RR. */
struct cw_rtcp_report {
	uint32_t ssrc; /* the sender of the report */
	bool is_sr;
	struct cw_rtcp_sender_info si; /* SR only */
	uint8_t n_blocks;
	const uint8_t *blocks; /* n_blocks * 24 bytes; read them with cw_rtcp_report_block() */
};

/* Parses a sender report; its report blocks must fit. Profile extensions after the blocks
 * are ignored. Returns 0, -EINVAL (not an SR) or -EBADMSG. */
int cw_rtcp_sr_parse(const struct cw_rtcp *pkt, struct cw_rtcp_report *rep);

/* Parses a receiver report the same way. Returns 0, -EINVAL (not an RR) or -EBADMSG. */
int cw_rtcp_rr_parse(const struct cw_rtcp *pkt, struct cw_rtcp_report *rep);

/* Reads report block i of a parsed report. Returns 0 or -ENOENT (i >= n_blocks). */
int cw_rtcp_report_block(const struct cw_rtcp_report *rep, unsigned i,
			 struct cw_rtcp_report_block *rb);

/* ---- SDES and BYE ---- */

/* One SDES chunk: its source and, when the chunk has one, the CNAME (not terminated). */
struct cw_rtcp_sdes_chunk {
	uint32_t ssrc;
	const char *cname; /* NULL when the chunk has no CNAME item */
	size_t cname_len;
};

/* Iteration state over the chunks of an SDES packet; fields are private. */
struct cw_rtcp_sdes_iter {
	const uint8_t *body;
	size_t len;
	size_t pos;
	unsigned left;
};

/* Starts iterating the chunks of an SDES packet. Returns 0 or -EINVAL (not an SDES). */
int cw_rtcp_sdes_iter_init(struct cw_rtcp_sdes_iter *it, const struct cw_rtcp *pkt);

/* The next chunk: 1 with *chunk filled, 0 after the last of the SC chunks, -EBADMSG
 * when an item runs past the packet or the item list has no terminating null octet.
 * Items other than CNAME are skipped. */
int cw_rtcp_sdes_next(struct cw_rtcp_sdes_iter *it, struct cw_rtcp_sdes_chunk *chunk);

struct cw_rtcp_bye {
	uint8_t count;
	const uint8_t *ssrcs; /* count * 4 bytes; read them with cw_rtcp_bye_ssrc() */
	const char *reason;   /* NULL without a reason; not terminated */
	size_t reason_len;
};

/* Parses a BYE: the SSRC/CSRC list and the optional reason must fit. Returns 0,
 * -EINVAL (not a BYE) or -EBADMSG. */
int cw_rtcp_bye_parse(const struct cw_rtcp *pkt, struct cw_rtcp_bye *bye);

/* The i-th source of a parsed BYE, or 0 when i >= count. */
uint32_t cw_rtcp_bye_ssrc(const struct cw_rtcp_bye *bye, unsigned i);

/* ---- feedback (RFC 4585) ---- */

/* The common part of RTPFB and PSFB messages. */
struct cw_rtcp_fb {
	uint8_t pt;
	uint8_t fmt;
	uint32_t sender_ssrc;
	uint32_t media_ssrc; /* for PLI and NACK: the source the feedback is about */
	const uint8_t *fci;  /* feedback control information */
	size_t fci_len;
};

/* Parses the feedback header of an RTPFB or PSFB packet. A PLI is exactly this (and
 * needs nothing more). Returns 0, -EINVAL (not feedback) or -EBADMSG (under 8 bytes). */
int cw_rtcp_fb_parse(const struct cw_rtcp *pkt, struct cw_rtcp_fb *fb);

/* Called once per lost sequence number of a generic NACK, in packet order. A non-zero
 * return stops the walk and is returned by cw_rtcp_nack_foreach(). */
typedef int (*cw_rtcp_nack_fn)(uint16_t seq, void *arg);

/* Expands the PID/BLP pairs of a generic NACK: PID, then PID+1+i for each bit i of BLP
 * (wrapping at 65535). Returns 0, the callback's non-zero value, -EINVAL (not a NACK) or
 * -EBADMSG (no pairs, or an FCI that is not whole pairs). */
int cw_rtcp_nack_foreach(const struct cw_rtcp_fb *fb, cw_rtcp_nack_fn fn, void *arg);

/* Expands a generic NACK into seqs[0..max). Returns 0 with *n set, -ENOSPC when more
 * were lost than fit (the first max are in seqs and *n is max), -EINVAL or -EBADMSG. */
int cw_rtcp_nack_expand(const struct cw_rtcp_fb *fb, uint16_t *seqs, size_t max, size_t *n);

/* A parsed FIR (RFC 5104 section 4.3.1): FCI entries of 8 bytes each. */
struct cw_rtcp_fir {
	size_t n_entries;
	const uint8_t *entries; /* read them with cw_rtcp_fir_entry() */
};

struct cw_rtcp_fir_entry {
	uint32_t ssrc; /* the media sender asked for a decoder refresh */
	uint8_t seq;   /* command sequence number: a repeat carries the same one */
};

/* Parses a FIR. Returns 0, -EINVAL (not a FIR) or -EBADMSG (no entries, or an FCI that
 * is not whole entries). */
int cw_rtcp_fir_parse(const struct cw_rtcp_fb *fb, struct cw_rtcp_fir *fir);

/* Reads entry i of a parsed FIR. Returns 0 or -ENOENT (i >= n_entries). */
int cw_rtcp_fir_entry(const struct cw_rtcp_fir *fir, size_t i, struct cw_rtcp_fir_entry *e);

/* A parsed REMB: the receiver's estimate of the total bitrate for a set of sources. */
struct cw_rtcp_remb {
	uint64_t bitrate; /* bits per second: mantissa << exponent, saturated */
	uint8_t n_ssrcs;
	const uint8_t *ssrcs; /* read them with cw_rtcp_remb_ssrc() */
};

/* Parses a REMB (PSFB FMT 15 with the "REMB" tag): the SSRC list must fit. Returns 0,
 * -EINVAL (not a REMB) or -EBADMSG. */
int cw_rtcp_remb_parse(const struct cw_rtcp_fb *fb, struct cw_rtcp_remb *remb);

/* The i-th SSRC of a parsed REMB, or 0 when i >= n_ssrcs. */
uint32_t cw_rtcp_remb_ssrc(const struct cw_rtcp_remb *remb, unsigned i);

/* The header of a transport-cc feedback message. */
struct cw_rtcp_twcc {
	uint16_t base_seq;
	uint16_t status_count; /* packets described: base_seq .. base_seq + count - 1 */
	int32_t ref_time;      /* 24-bit signed, in multiples of 64 ms */
	uint8_t fb_count;      /* feedback packet count, to detect lost feedback */
};

/* The fate of one packet in a transport-cc feedback message. */
struct cw_rtcp_twcc_status {
	uint16_t seq;
	bool received;
	int32_t delta_us; /* receive delta from the previous received packet (or the
			   * reference time), multiples of 250 us; 0 if not received */
	int64_t recv_us;  /* ref_time * 64000 + all deltas so far; 0 if not received */
};

/* Parses a transport-cc feedback message: the header, the run-length and status-vector
 * (1- and 2-bit) chunks, then the 8-bit and 16-bit receive deltas. Checks the whole
 * message (a status count of 0, a reserved symbol, chunks or deltas past the end are
 * -EBADMSG) before filling out[0..max) in sequence order. Returns 0 with *n set, -ENOSPC
 * when status_count > max (the first max are filled), -EINVAL (not transport-cc) or
 * -EBADMSG. */
int cw_rtcp_twcc_parse(const struct cw_rtcp_fb *fb, struct cw_rtcp_twcc *twcc,
		       struct cw_rtcp_twcc_status *out, size_t max, size_t *n);

/* ---- builders: each writes one packet at out and sets *len; 0 or -ENOSPC/-EINVAL ---- */

/* An SR from ssrc with n (<= 31) report blocks. */
int cw_rtcp_build_sr(uint8_t *out, size_t size, size_t *len, uint32_t ssrc,
		     const struct cw_rtcp_sender_info *si,
		     const struct cw_rtcp_report_block *blocks, size_t n);

/* An RR from ssrc with n (<= 31) report blocks; n = 0 is the empty RR that must lead a
 * compound when there is nothing to report. */
int cw_rtcp_build_rr(uint8_t *out, size_t size, size_t *len, uint32_t ssrc,
		     const struct cw_rtcp_report_block *blocks, size_t n);

/* An SDES with one chunk: ssrc and its CNAME (1..255 bytes). */
int cw_rtcp_build_sdes_cname(uint8_t *out, size_t size, size_t *len, uint32_t ssrc,
			     const char *cname, size_t cname_len);

/* A BYE for n (1..31) sources, without a reason. */
int cw_rtcp_build_bye(uint8_t *out, size_t size, size_t *len, const uint32_t *ssrcs, size_t n);

/* A picture loss indication about media_ssrc. */
int cw_rtcp_build_pli(uint8_t *out, size_t size, size_t *len, uint32_t sender_ssrc,
		      uint32_t media_ssrc);

/* A FIR asking target_ssrc for a decoder refresh; seq is the command sequence number,
 * incremented by the caller for each new request (not for repeats). */
int cw_rtcp_build_fir(uint8_t *out, size_t size, size_t *len, uint32_t sender_ssrc,
		      uint32_t target_ssrc, uint8_t seq);

/* A generic NACK for the n (>= 1) sequence numbers in lost, packed into PID/BLP pairs:
 * each number within 16 after the current PID (wrap-aware) sets a bit, any other starts
 * a new pair. Give them in ascending (wrap-aware) order for the fewest pairs; any order
 * is still correct. Duplicates are harmless. */
int cw_rtcp_build_nack(uint8_t *out, size_t size, size_t *len, uint32_t sender_ssrc,
		       uint32_t media_ssrc, const uint16_t *lost, size_t n);

/* A REMB of bitrate (bits/s, rounded down to an 18-bit mantissa) for n (<= 255) SSRCs. */
int cw_rtcp_build_remb(uint8_t *out, size_t size, size_t *len, uint32_t sender_ssrc,
		       uint64_t bitrate, const uint32_t *ssrcs, size_t n);

/* ---- receive statistics (RFC 3550 A.1, A.3, A.8) ---- */

/* What a receiver keeps per incoming SSRC to fill its report blocks; fields are private
 * except ssrc and clock_rate. */
struct cw_rtcp_rx_stats {
	uint32_t ssrc;
	uint32_t clock_rate; /* RTP timestamp units per second */
	bool started;
	uint16_t max_seq;
	uint32_t cycles; /* wraps << 16 */
	uint32_t base_seq;
	uint32_t bad_seq;
	uint32_t received;
	uint32_t expected_prior;
	uint32_t received_prior;
	bool have_transit;
	uint32_t transit;
	uint32_t jitter; /* x 16, as appendix A.8 keeps it */
	uint32_t lsr;	 /* middle bits of the last SR's NTP time */
	int64_t lsr_arrival_us;
};

/* Starts statistics for ssrc whose RTP clock runs at clock_rate Hz. */
void cw_rtcp_rx_init(struct cw_rtcp_rx_stats *s, uint32_t ssrc, uint32_t clock_rate);

/* Accounts one received packet (not an RTX): seq, its RTP timestamp and the arrival
 * time in microseconds on any non-negative monotonic clock. A jump of more than 3000
 * ahead or 100 behind is not counted unless the next packet follows it, which restarts
 * the statistics (the sender restarted). Jitter follows packets in order only. Returns 0
 * when counted, -ERANGE when held back as a possible restart. */
int cw_rtcp_rx_packet(struct cw_rtcp_rx_stats *s, uint16_t seq, uint32_t rtp_ts,
		      int64_t arrival_us);

/* Notes a sender report from this source, for the LSR/DLSR fields. */
void cw_rtcp_rx_sr(struct cw_rtcp_rx_stats *s, uint64_t ntp, int64_t arrival_us);

/* Fills a report block at now_us (the clock of the arrivals) and starts the next
 * interval for fraction_lost. */
void cw_rtcp_rx_report(struct cw_rtcp_rx_stats *s, int64_t now_us, struct cw_rtcp_report_block *rb);

/* The middle 32 bits of an NTP timestamp, as LSR carries it. */
uint32_t cw_rtcp_ntp_mid(uint64_t ntp);

/* The NTP timestamp of a Unix time in microseconds (non-negative). */
uint64_t cw_rtcp_ntp_from_unix_us(int64_t unix_us);

/* Round-trip time from a report block about our own stream: now_mid is the middle 32
 * bits of the NTP time at which the block arrived. Returns 0 with *rtt_us set (0 when
 * clocks make it negative) or -ENOENT when the block has no LSR. */
int cw_rtcp_rtt_us(uint32_t now_mid, uint32_t lsr, uint32_t dlsr, int64_t *rtt_us);

#endif
