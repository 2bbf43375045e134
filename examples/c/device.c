/* A sample LwM2M device in C on lwm2mc: bootstraps (or registers directly), exposes a
 * temperature sensor (IPSO 3303) through a C read callback, runs until SIGINT/SIGTERM, then
 * de-registers.
 *
 *   cc -std=c99 device.c $(pkg-config --cflags --libs lwm2mc) -o device
 *   ./device --bootstrap coap://127.0.0.1:5783 --endpoint my-dev --state-file ./state
 */
#define _POSIX_C_SOURCE 200112L
#include <ctype.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwm2mc.h"

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

/* The "sensor": a slow sine around 21 °C. */
static lwm2mc_result read_temperature(void *ud, uint16_t obj, uint16_t inst, uint16_t res, lwm2mc_value *out) {
    static const char units[] = "Cel";
    (void)ud; (void)obj;
    if (inst != 0) return LWM2MC_RESULT_NOT_FOUND;
    if (res == 5700) {
        out->type = LWM2MC_TYPE_FLOAT;
        out->floating = 21.0 + 2.0 * sin((double)time(NULL) / 60.0);
        return LWM2MC_RESULT_OK;
    }
    if (res == 5701) {
        out->type = LWM2MC_TYPE_STRING;
        out->bytes = (const uint8_t *)units;
        out->len = strlen(units);
        return LWM2MC_RESULT_OK;
    }
    return LWM2MC_RESULT_NOT_FOUND;
}

/* Firmware update by push (--firmware PATH): the package goes to PATH.part, then PATH;
 * "installing" it makes its CRC-32 the Firmware Version (/3/0/3), set by the main loop. */
static const char *fw_path;
static char fw_part[512];
static FILE *fw_file;
static uint32_t fw_crc;
static char fw_installed[32]; /* the new version string, "" when nothing to set */

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    return ~crc;
}

static lwm2mc_result fw_open(void *ud, uint64_t size, bool known) {
    (void)ud;
    printf("firmware: receiving a package (%llu bytes%s)\n", (unsigned long long)size, known ? "" : ", size unknown");
    fw_crc = 0;
    fw_file = fopen(fw_part, "wb");
    return fw_file != NULL ? 0 : 2; /* Update Result 2: not enough flash */
}

static lwm2mc_result fw_write(void *ud, uint64_t offset, const uint8_t *chunk, size_t len) {
    (void)ud;
    (void)offset; /* chunks come in order */
    fw_crc = crc32_update(fw_crc, chunk, len);
    return fw_file != NULL && fwrite(chunk, 1, len, fw_file) == len ? 0 : 2;
}

static lwm2mc_result fw_verify(void *ud) {
    (void)ud;
    if (fw_file == NULL || fclose(fw_file) != 0) { fw_file = NULL; return 2; }
    fw_file = NULL;
    if (rename(fw_part, fw_path) != 0) return 2;
    printf("firmware: package complete, crc32 %08lx\n", (unsigned long)fw_crc);
    return 0;
}

static lwm2mc_result fw_apply(void *ud) {
    (void)ud;
    snprintf(fw_installed, sizeof fw_installed, "fw-%08lx", (unsigned long)fw_crc);
    printf("firmware: installed %s\n", fw_installed);
    return LWM2MC_FIRMWARE_APPLY_DONE;
}

static void fw_discard(void *ud) {
    (void)ud;
    if (fw_file != NULL) { fclose(fw_file); fw_file = NULL; }
    remove(fw_part);
}

#define TRY(expr) do { lwm2mc_result r_ = (expr); if (r_ != LWM2MC_RESULT_OK) { \
    fprintf(stderr, "%s: %s\n", #expr, lwm2mc_result_str(r_)); return 1; } } while (0)

static void usage(void) {
    fprintf(stderr, "usage: device (--bootstrap URI | --server URI) [--endpoint NAME] [--port N] "
                    "[--lifetime S] [--state-file DIR] [--pct 110|112|11542] [--firmware PATH] "
                    "[--psk-identity TEXT --psk-key HEX]\n");
}

/* `hex` (an even number of hex digits, at most `cap` bytes) into `out`; the byte count, or 0
 * for anything else. */
static size_t parse_hex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = strlen(hex);
    if (n == 0 || n % 2 != 0 || n / 2 > cap) return 0;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1 || !isxdigit((unsigned char)hex[2 * i]) ||
            !isxdigit((unsigned char)hex[2 * i + 1]))
            return 0;
        out[i] = (uint8_t)v;
    }
    return n / 2;
}

int main(int argc, char **argv) {
    const char *bootstrap = NULL, *server = NULL, *endpoint = "lwm2mc-c-device", *state = NULL;
    const char *psk_identity = NULL, *psk_key = NULL;
    uint8_t key[64];
    size_t key_len = 0;
    unsigned long port = 0, lifetime = 300, pct = 0;
    char bind_addr[32];
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *client = NULL;
    time_t last_reading = 0;
    lwm2mc_event ev;
    bool stopped = false;
    static const lwm2mc_resource_def temperature[] = {
        {5700, LWM2MC_TYPE_FLOAT, LWM2MC_OPERATION_READ, false, true},
        {5701, LWM2MC_TYPE_STRING, LWM2MC_OPERATION_READ, false, false},
    };
    lwm2mc_object_callbacks callbacks = {.read = read_temperature};

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) { usage(); return 2; }
        if (strcmp(argv[i], "--bootstrap") == 0) bootstrap = v;
        else if (strcmp(argv[i], "--server") == 0) server = v;
        else if (strcmp(argv[i], "--endpoint") == 0) endpoint = v;
        else if (strcmp(argv[i], "--port") == 0) port = strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--lifetime") == 0) lifetime = strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--firmware") == 0) fw_path = v;
        else if (strcmp(argv[i], "--state-file") == 0) state = v;
        else if (strcmp(argv[i], "--pct") == 0) pct = strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--psk-identity") == 0) psk_identity = v;
        else if (strcmp(argv[i], "--psk-key") == 0) psk_key = v;
        else { usage(); return 2; }
        i++;
    }
    if ((bootstrap == NULL) == (server == NULL) || port > 65535) { usage(); return 2; }
    /* DTLS PSK for a coaps:// factory account: both or neither. */
    if ((psk_identity == NULL) != (psk_key == NULL)) { usage(); return 2; }
    if (psk_key != NULL && (key_len = parse_hex(psk_key, key, sizeof key)) == 0) {
        fprintf(stderr, "--psk-key: expected an even number of hex digits, at most 64 bytes\n");
        return 2;
    }

    TRY(lwm2mc_config_new(endpoint, &cfg));
    if (bootstrap) TRY(lwm2mc_config_add_bootstrap_server(cfg, bootstrap, 0));
    if (server) TRY(lwm2mc_config_add_server(cfg, 1, server, (uint32_t)lifetime));
    if (psk_identity != NULL) {
        /* Short Server ID 0 names the Bootstrap-Server account. */
        TRY(lwm2mc_config_set_psk(cfg, bootstrap ? 0 : 1, (const uint8_t *)psk_identity,
                                  strlen(psk_identity), key, key_len));
    }
    if (state) TRY(lwm2mc_config_use_file_storage(cfg, state));
    if (pct) TRY(lwm2mc_config_set_preferred_format(cfg, (uint16_t)pct));
    TRY(lwm2mc_config_set_device(cfg, "lwm2mc project", "lwm2mc-c-device", "C-0001"));
    TRY(lwm2mc_config_add_object(cfg, 3303, NULL, true, temperature, 2, &callbacks));
    if (fw_path != NULL) {
        lwm2mc_firmware_callbacks fw = {.open = fw_open, .write = fw_write, .verify = fw_verify,
                                        .apply = fw_apply, .discard = fw_discard};
        snprintf(fw_part, sizeof fw_part, "%s.part", fw_path);
        TRY(lwm2mc_config_set_firmware(cfg, &fw));
    }
    TRY(lwm2mc_client_new(cfg, &client));
    lwm2mc_config_free(cfg);
    snprintf(bind_addr, sizeof bind_addr, "127.0.0.1:%lu", port);
    TRY(lwm2mc_client_bind_udp(client, bind_addr));

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    TRY(lwm2mc_client_start(client, 0));
    while (!stop_requested || !stopped) {
        /* The sensor's value moves each second: tell the library, so that a server observing
         * it gets a notification (values set with lwm2mc_client_set_* need no such call). */
        if (fw_installed[0] != '\0') {
            TRY(lwm2mc_client_set_string(client, "/3/0/3", fw_installed));
            fw_installed[0] = '\0';
        }
        if (time(NULL) != last_reading) {
            last_reading = time(NULL);
            TRY(lwm2mc_client_changed(client, "/3303/0/5700"));
        }
        if (stop_requested == 1) {
            printf("stopping: de-registering\n");
            TRY(lwm2mc_client_stop(client, 0));
            stop_requested = 2;
        }
        TRY(lwm2mc_client_poll_udp(client, 200));
        while (lwm2mc_client_next_event(client, &ev) == LWM2MC_RESULT_OK) {
            /* One line per event, e.g. "registered ssid=1 /rd/1" or
               "bootstrap_finish_refused ssid=0 /0/1/5 (Secret Key, mandatory) is missing". */
            printf("%s ssid=%u", lwm2mc_event_kind_str(ev.kind), (unsigned)ev.ssid);
            if (ev.path[0] != '\0')
                printf(" %s", ev.path);
            if (ev.message[0] != '\0')
                printf(" %s", ev.message);
            printf("\n");
            fflush(stdout);
        }
        TRY(lwm2mc_client_is_stopped(client, &stopped));
    }
    lwm2mc_client_free(client);
    return 0;
}
