/* values: names of the contract's enumerations, small helpers, the intrusive list. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "sdk.h"

const char *const cw__status_names[7] = {"initiated", "ongoing", "ended",     "rejected",
					 "cancelled", "busy",	 "unanswered"};
const char *const cw__part_state_names[7] = {"ringing", "ongoing",    "left",	  "rejected",
					     "busy",	"unanswered", "cancelled"};
static const char *const type_names[] = {"audio", "video"};
static const char *const receiver_names[] = {"user", "group"};
static const char *const category_names[] = {"call", "meet"};
static const char *const direction_names[] = {"incoming", "outgoing"};

#define NAME_OF(names, v) ((unsigned)(v) < CW__ARRAY_SIZE(names) ? (names)[v] : NULL)

const char *cw_version(void)
{
	return "0.1.0";
}

const char *cw_call_type_str(cw_call_type t)
{
	return NAME_OF(type_names, t);
}

const char *cw_receiver_type_str(cw_receiver_type t)
{
	return NAME_OF(receiver_names, t);
}

const char *cw_call_category_str(cw_call_category c)
{
	return NAME_OF(category_names, c);
}

const char *cw_call_status_str(cw_call_status s)
{
	return NAME_OF(cw__status_names, s);
}

const char *cw_participant_state_str(cw_participant_state s)
{
	return NAME_OF(cw__part_state_names, s);
}

const char *cw_direction_str(cw_direction d)
{
	return NAME_OF(direction_names, d);
}

int cw__parse_enum(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; s && i < n; i++) {
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

void cw_free(void *p)
{
	free(p);
}

char *cw__strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int64_t cw__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cw__random_bytes(void *buf, size_t len)
{
	/* OpenSSL's generator; should it fail, the clock still makes ids differ. */
	if (RAND_bytes(buf, (int)len) != 1) {
		uint64_t t = (uint64_t)cw__now_ms() * 2654435761u;
		uint8_t *p = buf;
		for (size_t i = 0; i < len; i++)
			p[i] ^= (uint8_t)(t >> (i % 8 * 8)) + (uint8_t)i;
	}
}

uint32_t cw__random_u32(void)
{
	uint32_t v = 0;

	cw__random_bytes(&v, sizeof(v));
	return v;
}

unsigned cw__rand_below(unsigned bound)
{
	return bound ? cw__random_u32() % bound : 0;
}

void cw__list_init(struct cw__link *head)
{
	head->prev = head->next = head;
}

void cw__list_add_tail(struct cw__link *head, struct cw__link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

void cw__list_del(struct cw__link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = l;
}

bool cw__list_empty(const struct cw__link *head)
{
	return head->next == head;
}

void cw__list_splice(struct cw__link *to, struct cw__link *from)
{
	if (cw__list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	cw__list_init(from);
}
