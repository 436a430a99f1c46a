/* config: settings from defaults, a config file, the environment and flags. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/util.h"

static int set(struct cw_config *cfg, const char *key, const char *value, char *err, size_t errsz)
{
	char *dst;
	size_t size;

	if (strcmp(key, "listen") == 0) {
		dst = cfg->listen;
		size = sizeof(cfg->listen);
	} else if (strcmp(key, "data") == 0) {
		dst = cfg->data;
		size = sizeof(cfg->data);
	} else if (strcmp(key, "master_key") == 0) {
		dst = cfg->master_key;
		size = sizeof(cfg->master_key);
	} else if (strcmp(key, "log_level") == 0) {
		dst = cfg->log_level;
		size = sizeof(cfg->log_level);
	} else if (strcmp(key, "media_ports") == 0) {
		dst = cfg->media_ports;
		size = sizeof(cfg->media_ports);
	} else if (strcmp(key, "public_ip") == 0) {
		dst = cfg->public_ip;
		size = sizeof(cfg->public_ip);
	} else if (strcmp(key, "media_workers") == 0) {
		dst = cfg->media_workers;
		size = sizeof(cfg->media_workers);
	} else if (strcmp(key, "web") == 0) {
		dst = cfg->web;
		size = sizeof(cfg->web);
	} else {
		snprintf(err, errsz, "unknown setting '%s'", key);
		return -EINVAL;
	}
	if (cw_strlcpy(dst, value, size) >= size) {
		snprintf(err, errsz, "setting '%s' is too long", key);
		return -EINVAL;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "key = value" lines; '#' starts a comment line. */
static int load_file(struct cw_config *cfg, const char *path, char *err, size_t errsz)
{
	char line[2048];
	int lineno = 0, rc = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errsz, "cannot read config file %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq;
		lineno++;
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errsz, "%s:%d: expected key = value", path, lineno);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		if ((rc = set(cfg, trim(s), trim(eq + 1), err, errsz)) != 0)
			break;
	}
	fclose(f);
	return rc;
}

int cw_config_load(struct cw_config *cfg, int argc, char **argv, char *err, size_t errsz)
{
	static const struct {
		const char *env, *key;
	} envs[] = {
		{"CALLWIRE_LISTEN", "listen"},
		{"CALLWIRE_DATA", "data"},
		{"CALLWIRE_MASTER_KEY", "master_key"},
		{"CALLWIRE_LOG_LEVEL", "log_level"},
		{"CALLWIRE_MEDIA_PORTS", "media_ports"},
		{"CALLWIRE_PUBLIC_IP", "public_ip"},
		{"CALLWIRE_MEDIA_WORKERS", "media_workers"},
		{"CALLWIRE_WEB", "web"},
	};
	const char *file = getenv("CALLWIRE_CONFIG");
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cw_strlcpy(cfg->listen, CW_DEFAULT_LISTEN, sizeof(cfg->listen));
	cw_strlcpy(cfg->data, CW_DEFAULT_DATA, sizeof(cfg->data));
	cw_strlcpy(cfg->log_level, "info", sizeof(cfg->log_level));

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[i + 1];
	}
	if (file && *file && (rc = load_file(cfg, file, err, errsz)) != 0)
		return rc;
	for (size_t i = 0; i < CW_ARRAY_SIZE(envs); i++) {
		const char *v = getenv(envs[i].env);
		if (v && *v && (rc = set(cfg, envs[i].key, v, err, errsz)) != 0)
			return rc;
	}
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--demo") == 0) {
			cfg->demo = 1;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
			snprintf(err, errsz, "unknown argument '%s'", a);
			return -EINVAL;
		}
		if (strcmp(a, "--config") == 0) {
			i++;
			continue;
		}
		if (strcmp(a, "--listen") == 0)
			rc = set(cfg, "listen", argv[++i], err, errsz);
		else if (strcmp(a, "--data") == 0)
			rc = set(cfg, "data", argv[++i], err, errsz);
		else if (strcmp(a, "--log-level") == 0)
			rc = set(cfg, "log_level", argv[++i], err, errsz);
		else if (strcmp(a, "--media-ports") == 0)
			rc = set(cfg, "media_ports", argv[++i], err, errsz);
		else if (strcmp(a, "--public-ip") == 0)
			rc = set(cfg, "public_ip", argv[++i], err, errsz);
		else if (strcmp(a, "--media-workers") == 0)
			rc = set(cfg, "media_workers", argv[++i], err, errsz);
		else if (strcmp(a, "--web") == 0)
			rc = set(cfg, "web", argv[++i], err, errsz);
		else {
			snprintf(err, errsz, "unknown option '%s'", a);
			return -EINVAL;
		}
		if (rc)
			return rc;
	}
	if (cfg->master_key[0] && strlen(cfg->master_key) < 16) {
		snprintf(err, errsz, "the master key must be at least 16 characters");
		return -EINVAL;
	}
	return 0;
}

int cw_parse_listen(const char *listen, char *host, size_t hostsz, int *port)
{
	const char *colon = strrchr(listen, ':');
	char *end;
	long p;

	if (!colon || colon == listen || (size_t)(colon - listen) >= hostsz)
		return -EINVAL;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p < 0 || p > 65535)
		return -EINVAL;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	*port = (int)p;
	return 0;
}
