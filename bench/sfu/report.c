/* report: the generator's JSON report: the run's configuration, the measured window (rates,
 * CPU per forwarded packet, ratios to the references), latency, loss over the whole load
 * with the kernel's and the SFU's counters, and the goal. */
#include <stdio.h>
#include <unistd.h>

#include <jansson.h>

#include "sfugen.h"

#define GOAL_PER_CORE 250000.0 /* forwarded SRTP packets per second per core */

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

static json_t *sfu_stats_json(const struct cw_sfu_stats *a, const struct cw_sfu_stats *b)
{
	json_t *j = json_object();

#define F(x) json_object_set_new(j, #x, json_integer((json_int_t)(b->x - a->x)))
	F(rx_packets);
	F(rx_bytes);
	F(tx_packets);
	F(tx_bytes);
	F(stun_checks);
	F(stun_unauthorized);
	F(stun_bad);
	F(dropped_unknown);
	F(dropped_unverified);
	F(dropped_not_ready);
	F(dtls_connected);
	F(dtls_failed);
	F(srtp_auth_failed);
	F(srtp_replayed);
	F(rtp_forwarded);
	F(rtcp_forwarded);
	F(consent_expired);
	F(dropped_muted);
	F(pli_rate_limited);
	F(nack_received);
	F(rtp_retransmitted);
	F(remb_sent);
#undef F
	return j;
}

/* The measured window: rates, CPU per forwarded packet, the references' ratios. */
static json_t *window_json(const struct gen *g, const struct snapshot *a, const struct snapshot *b,
			   const struct reference *ref)
{
	double wall = secs(b->wall_ns - a->wall_ns), tck = (double)sysconf(_SC_CLK_TCK);
	double fwd = (double)(b->sfu.rtp_forwarded - a->sfu.rtp_forwarded), wcpu = 0;
	double gen_cpu = secs(b->gen_ns - a->gen_ns), busy = 0, softirq = 0, steal = 0;
	double uticks = 0, ticks = 0, wait = 0;
	int n_busy = 0;
	json_t *per_worker = json_array(), *w = json_object();
	uint64_t sent = 0;
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

	for (int i = 0; i < g->sfu.n_workers; i++) {
		double s = secs(b->worker_ns[i] - a->worker_ns[i]);
		uticks += (double)(b->worker_utime[i] - a->worker_utime[i]);
		wait += secs(b->worker_wait_ns[i] - a->worker_wait_ns[i]);
		ticks += (double)(b->worker_utime[i] - a->worker_utime[i] + b->worker_stime[i] -
				  a->worker_stime[i]);
		wcpu += s;
		json_array_append_new(per_worker, json_real(s));
	}
	for (int i = 0; i < g->n_pubs; i++)
		sent += g->pubs[i]->window_sent[0] + g->pubs[i]->window_sent[1];
	/* A CPU may carry several workers: count it once. */
	for (int c = 0; c < CPUS_MAX && g->sfu.pinned; c++) {
		bool used = false;
		for (int i = 0; i < g->sfu.n_workers; i++)
			used = used || g->sfu.worker_cpus[i] == c;
		if (used) {
			busy += (double)(b->cpu_busy[c] - a->cpu_busy[c]) / tck;
			softirq += (double)(b->cpu_softirq[c] - a->cpu_softirq[c]) / tck;
			n_busy++;
		}
	}
	for (int c = 0; c < ncpu && c < CPUS_MAX; c++)
		steal += (double)(b->cpu_steal[c] - a->cpu_steal[c]) / tck;

	json_object_set_new(w, "seconds", json_real(wall));
	json_object_set_new(w, "sent", json_integer((json_int_t)sent));
	json_object_set_new(w, "sent_per_sec", json_real((double)sent / wall));
	json_object_set_new(w, "forwarded", json_integer((json_int_t)fwd));
	json_object_set_new(w, "forwarded_per_sec", json_real(fwd / wall));
	json_object_set_new(w, "forwarded_per_sec_per_worker",
			    json_real(fwd / wall / g->sfu.n_workers));
	json_object_set_new(w, "server_rx_per_sec",
			    json_real((double)(b->sfu.rx_packets - a->sfu.rx_packets) / wall));
	json_object_set_new(w, "worker_cpu_s", json_real(wcpu));
	json_object_set_new(w, "worker_cpu_s_each", per_worker);
	json_object_set_new(w, "worker_cpu_util", json_real(wcpu / wall / g->sfu.n_workers));
	if (ticks > 0)
		json_object_set_new(w, "worker_user_share", json_real(uticks / ticks));
	json_object_set_new(w, "worker_cpu_ns_per_forwarded",
			    json_real(fwd ? wcpu * 1e9 / fwd : 0));
	json_object_set_new(w, "worker_cpu_s_per_million_forwarded",
			    json_real(fwd ? wcpu * 1e6 / fwd : 0));
	json_object_set_new(w, "forwarded_per_worker_cpu_second", json_real(wcpu ? fwd / wcpu : 0));
	if (busy > 0) {
		/* Everything that ran on the workers' CPUs: their threads, the kernel's softirq
		 * work that ksoftirqd took over from them, and other processes of the machine
		 * (pinning keeps the generator off them, not those). Tick-sampled. */
		json_object_set_new(w, "worker_cpus_busy_util", json_real(busy / wall / n_busy));
		json_object_set_new(w, "worker_cpus_softirq_s", json_real(softirq));
	}
	/* Runnable but not running: the share of the window other tasks held the CPU. */
	json_object_set_new(w, "worker_wait_share", json_real(wait / wall / g->sfu.n_workers));
	json_object_set_new(w, "generator_wait_share",
			    json_real(secs(b->gen_wait_ns - a->gen_wait_ns) / wall));
	json_object_set_new(w, "steal_util", json_real(steal / wall / ncpu));
	json_object_set_new(w, "generator_cpu_util", json_real(gen_cpu / wall));
	json_object_set_new(w, "generator_cpu_ns_per_forwarded",
			    json_real(fwd ? gen_cpu * 1e9 / fwd : 0));
	if (ref && fwd && ref->srtp_protect_ns > 0) {
		double ns = wcpu * 1e9 / fwd;
		json_object_set_new(
			w, "worker_ns_per_forwarded_vs_srtp_pair",
			json_real(ns / (ref->srtp_protect_ns + ref->srtp_unprotect_ns)));
		json_object_set_new(w, "worker_ns_per_forwarded_vs_udp",
				    json_real(ns / ref->udp_ns));
	}
	if (!g->o->saturate) {
		json_object_set_new(w, "late_sends", json_integer((json_int_t)g->late_sends));
		json_object_set_new(w, "max_lag_ms", json_real((double)g->max_lag_ns / 1e6));
	}
	json_object_set_new(w, "server", sfu_stats_json(&a->sfu, &b->sfu));
	return w;
}

static json_t *latency_json(struct gen *g)
{
	struct samples *s = &g->latency;

	return json_pack("{s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "samples", (json_int_t)s->n,
			 "outside_window", (json_int_t)g->samples_outside, "p50",
			 samples_ms(s, 0.5), "p90", samples_ms(s, 0.9), "p99", samples_ms(s, 0.99),
			 "p999", samples_ms(s, 0.999), "max", samples_ms(s, 1.0), "min",
			 samples_ms(s, 0.0));
}

/* Everything the generator sent and received over the whole load, with the kernel's drops
 * and the SFU's counters over the same span. */
static json_t *totals_json(struct gen *g, const struct snapshot *s0, const struct snapshot *se,
			   const uint64_t drops[2], const uint64_t udp_err[2], long *errors)
{
	struct gen_totals t = {0};
	json_t *j;
	int64_t lost;

	for (int i = 0; i < g->n_peers; i++) {
		struct peer *p = &g->peers[i];
		t.sent += p->sent[0] + p->sent[1];
		t.send_failed += p->send_failed;
		if (p->role == ROLE_SUB)
			t.sub_rtp += p->rtp_rx;
		else
			t.pub_rtp += p->rtp_rx;
		t.rtcp += p->rtcp_rx;
		t.stun += p->stun_rx;
		t.decrypted += p->decrypted;
		t.srtp_errors += p->srtp_errors;
		t.bad_payload += p->bad_payload;
		t.unknown_ssrc += p->unknown_ssrc;
		t.seq_gaps += peer_seq_gaps(p);
		t.pli += p->pli_rx;
		t.fir += p->fir_rx;
		t.remb += p->remb_rx;
	}
	lost = (int64_t)g->copies_expected - (int64_t)t.sub_rtp;
	*errors += (long)(t.srtp_errors + t.bad_payload + t.unknown_ssrc + t.send_failed);
	j = json_object();
	json_object_set_new(j, "seconds", json_real(secs(se->wall_ns - s0->wall_ns)));
	json_object_set_new(j, "sent", json_integer((json_int_t)t.sent));
	json_object_set_new(j, "send_failed", json_integer((json_int_t)t.send_failed));
	json_object_set_new(j, "copies_expected", json_integer((json_int_t)g->copies_expected));
	json_object_set_new(j, "copies_received", json_integer((json_int_t)t.sub_rtp));
	json_object_set_new(j, "lost", json_integer(lost));
	json_object_set_new(
		j, "loss_ratio",
		json_real(g->copies_expected ? (double)lost / (double)g->copies_expected : 0));
	json_object_set_new(j, "seq_gaps", json_integer((json_int_t)t.seq_gaps));
	json_object_set_new(j, "rtp_to_publishers", json_integer((json_int_t)t.pub_rtp));
	json_object_set_new(j, "rtcp_received", json_integer((json_int_t)t.rtcp));
	json_object_set_new(j, "stun_received", json_integer((json_int_t)t.stun));
	json_object_set_new(j, "decrypted", json_integer((json_int_t)t.decrypted));
	json_object_set_new(j, "srtp_errors", json_integer((json_int_t)t.srtp_errors));
	json_object_set_new(j, "bad_payload", json_integer((json_int_t)t.bad_payload));
	json_object_set_new(j, "unknown_ssrc", json_integer((json_int_t)t.unknown_ssrc));
	json_object_set_new(j, "pli", json_integer((json_int_t)t.pli));
	json_object_set_new(j, "fir", json_integer((json_int_t)t.fir));
	json_object_set_new(j, "remb", json_integer((json_int_t)t.remb));
	json_object_set_new(j, "window_stalls", json_integer((json_int_t)g->stalls));
	json_object_set_new(j, "copies_written_off",
			    json_integer((json_int_t)g->copies_written_off));
	json_object_set_new(j, "udp_drops_at_sfu_sockets", json_integer((json_int_t)drops[0]));
	json_object_set_new(j, "udp_drops_at_generator_sockets",
			    json_integer((json_int_t)drops[1]));
	json_object_set_new(j, "udp_rcvbuf_errors", json_integer((json_int_t)udp_err[0]));
	json_object_set_new(j, "udp_sndbuf_errors", json_integer((json_int_t)udp_err[1]));
	json_object_set_new(j, "server", sfu_stats_json(&s0->sfu, &se->sfu));
	/* What the control plane heard during the load: peers that failed or went away. */
	json_object_set_new(
		j, "sfu_events",
		json_pack("{s:I,s:I,s:I,s:I}", "connected",
			  (json_int_t)(se->events[CW_SFU_EV_CONNECTED] -
				       s0->events[CW_SFU_EV_CONNECTED]),
			  "failed",
			  (json_int_t)(se->events[CW_SFU_EV_FAILED] - s0->events[CW_SFU_EV_FAILED]),
			  "gone",
			  (json_int_t)(se->events[CW_SFU_EV_GONE] - s0->events[CW_SFU_EV_GONE]),
			  "speaker",
			  (json_int_t)(se->events[CW_SFU_EV_SPEAKER] -
				       s0->events[CW_SFU_EV_SPEAKER])));
	*errors += (long)(se->events[CW_SFU_EV_FAILED] + se->events[CW_SFU_EV_GONE]);
	return j;
}

static json_t *config_json(const struct opts *o)
{
	return json_pack("{s:i,s:i,s:i,s:i,s:s,s:f,s:i,s:b,s:i,s:f,s:f,s:s,s:i,s:I,s:b}", "rooms",
			 o->rooms, "publishers", o->publishers, "subscribers", o->subscribers,
			 "workers", o->workers, "mode", o->saturate ? "saturate" : "paced", "pps",
			 o->saturate ? 0.0 : o->pps, "size", o->size, "audio", o->audio, "window",
			 o->saturate ? o->window : 0, "duration", o->duration, "warmup", o->warmup,
			 "profile", cw_srtp_profile_name(o->profile), "sample", o->sample,
			 "max_packets", (json_int_t)o->max_packets, "callgrind", o->callgrind);
}

/* Makes the peers: room r has P publishers then S subscribers, all on worker r % N. */

json_t *report_build(struct gen *g, const struct report_in *in)
{
	json_t *report = json_object(), *cfg = config_json(g->o), *wcpu = json_array(), *w;
	double per_core;

	for (int i = 0; i < g->sfu.n_workers && g->sfu.pinned; i++)
		json_array_append_new(wcpu, json_integer(g->sfu.worker_cpus[i]));
	json_object_set_new(cfg, "pinned", json_boolean(g->sfu.pinned));
	json_object_set_new(cfg, "generator_cpu",
			    g->sfu.pinned ? json_integer(g->sfu.generator_cpu) : json_null());
	json_object_set_new(cfg, "worker_cpus", g->sfu.pinned ? wcpu : json_null());
	if (!g->sfu.pinned)
		json_decref(wcpu);
	json_object_set_new(cfg, "cpus", json_integer(g->sfu.cpus));
	json_object_set_new(cfg, "srtp_library", json_string(cw_srtp_library_version()));
	json_object_set_new(cfg, "srtp_crypto", json_string(ref_srtp_backend()));
	json_object_set_new(report, "config", cfg);
	json_object_set_new(report, "setup",
			    json_pack("{s:i,s:f,s:I,s:I}", "peers", g->n_peers, "seconds",
				      secs(in->setup_ns), "dtls_connected",
				      (json_int_t)in->s0->sfu.dtls_connected, "events_connected",
				      (json_int_t)in->s0->events[CW_SFU_EV_CONNECTED]));
	if (in->ref)
		json_object_set_new(report, "reference",
				    json_pack("{s:f,s:f,s:f,s:f}", "srtp_protect_ns",
					      in->ref->srtp_protect_ns, "srtp_unprotect_ns",
					      in->ref->srtp_unprotect_ns, "srtp_pair_ns",
					      in->ref->srtp_protect_ns + in->ref->srtp_unprotect_ns,
					      "udp_sendrecv_ns", in->ref->udp_ns));
	w = window_json(g, in->a, in->b, in->ref);
	json_object_set_new(w, "sfu_process_cpu_s",
			    json_real(secs(in->b->sfu_process_ns - in->a->sfu_process_ns)));
	json_object_set_new(report, "window", w);
	json_object_set_new(report, "latency_ms", latency_json(g));
	json_object_set_new(report, "totals",
			    totals_json(g, in->s0, in->se, in->drops, in->udp_err, &g->errors));
	/* Per core: forwarded packets per CPU second of the worker threads, which other
	 * processes on the machine cannot inflate (the busy time of its CPU they can). */
	per_core = json_real_value(json_object_get(w, "forwarded_per_worker_cpu_second"));
	json_object_set_new(report, "goal",
			    json_pack("{s:f,s:f,s:b}", "forwarded_per_core", GOAL_PER_CORE,
				      "measured_per_core", per_core, "met",
				      per_core >= GOAL_PER_CORE));
	json_object_set_new(report, "errors", json_integer(g->errors));
	return report;
}
