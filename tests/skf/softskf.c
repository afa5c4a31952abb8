/*
 * softskf: a software SKF token (GM/T 0016-2012) for bidcrypt's tests, as SoftHSM2 serves PKCS#11.
 *
 * A TEST DOUBLE of the standard, not a product: keys sit in plain PEM files, nothing is protected.
 * It implements exactly the subset of docs/skf.md (same prototypes, packed structures, size
 * protocol, algorithm ids, SAR codes), plus the fast-path exports SKF_ECCDecrypt and
 * SKF_RSAPriKeyDecrypt unless built with -DSOFTSKF_NO_FAST_PATH (libsoftskf-std.so).
 * Crypto is OpenSSL 3's libcrypto. Built by tests/skf/build.sh (called from scripts/setup.sh).
 *
 * STATE DIRECTORY: the environment variable SOFTSKF_ROOT, read at each SKF_EnumDev / SKF_ConnectDev.
 * A connected device keeps the configuration (tree and faults) it read; its state file is read at
 * each call.
 *
 *   $SOFTSKF_ROOT/softskf.conf        optional; root-level faults (apply to every call, SKF_EnumDev too)
 *   $SOFTSKF_ROOT/<dir>/device.conf   one device per sub-directory holding a device.conf (dirs sorted)
 *   $SOFTSKF_ROOT/<dir>/state         written by the token: counters, PIN retries, "removed" flag
 *   $SOFTSKF_ROOT/<dir>/lock          SKF_LockDev's lock file
 *   $SOFTSKF_ROOT/<dir>/<file>       certificates (DER) and private keys (PEM PKCS#8, unencrypted)
 *
 * device.conf: "key = value" lines, "#" starts a comment line; "[application]" starts an application
 * of the device, "[container]" a container of the last application. Names are the bytes after "name ="
 * (UTF-8 as written), or "name-hex = c4a3..." for any bytes (a GBK name). Keys:
 *
 *   device:      name | name-hex, max-buffer (MaxBufferSize, default 65536),
 *                fault.removed-after = N   (once the key_operations counter is N, the next key operation
 *                                           and every call after it answer SAR_DEVICE_REMOVED, and
 *                                           SKF_EnumDev hides the device),
 *                fault.sar.<SKF_Function> = 0x0A0000FF   (that function answers this code),
 *                fault.size-lie.<SKF_Function> = K   (given a buffer, it claims K bytes more than it),
 *                fault.size-grow.<SKF_Function> = K  (given a buffer, it asks for K bytes more, always)
 *   application: name | name-hex, pin, max-retries (default 3), retries (initial tries left, default
 *                max-retries; 0 = a locked PIN)
 *   container:   name | name-hex, type (sm2 | rsa), sign-cert, sign-key, enc-cert, enc-key (file names
 *                in the device directory; any may be missing), fault.truncate-cert = N (export only the
 *                first N bytes of its certificates)
 *
 * The seed failures are plain configurations: no device (no sub-directory), a device without
 * "[application]", an application without "[container]", a container without sign-cert, retries = 0.
 *
 * state: "key value" lines, read and rewritten under flock(2) at each use, so that PIN tries and
 * counters hold across processes. Counters: verify_pin (every SKF_VerifyPIN call), verify_pin_failed,
 * sign, private_decrypt (SKF_ECCDecrypt / SKF_RSAPriKeyDecrypt), import_session_key, decrypt_update,
 * decrypt_update_bytes, key_operations (sign + private_decrypt + import_session_key); also
 * retries.<hex of the application name> and removed. Delete the file to reset a device.
 *
 * PIN: a wrong SKF_VerifyPIN takes one try and answers SAR_PIN_INCORRECT with the tries left (0 on
 * the last); with 0 left it answers SAR_PIN_LOCKED and takes nothing. A good PIN restores max-retries
 * and logs in THAT application handle; signing, private-key decryption and SKF_ImportSessionKey need
 * it (else SAR_USER_NOT_LOGGED_IN). An unknown device name in SKF_ConnectDev is SAR_DEVICE_REMOVED.
 * Lists with no name are one NUL. Handles are not freed on close (they are marked dead), so a stale
 * handle answers SAR_INVALIDHANDLEERR; closing always closes, and answers SAR_DEVICE_REMOVED when the
 * device was removed. Operations on one handle are not thread-safe (bidcrypt serialises them).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

typedef unsigned char BYTE;
typedef char CHAR;
typedef uint32_t ULONG;
typedef int32_t BOOL;
typedef char *LPSTR;
typedef void *DEVHANDLE, *HAPPLICATION, *HCONTAINER, *HANDLE;

#define EXPORT __attribute__((visibility("default")))

#pragma pack(push, 1)
typedef struct { BYTE major; BYTE minor; } VERSION;
typedef struct {
    VERSION Version;
    CHAR Manufacturer[64];
    CHAR Issuer[64];
    CHAR Label[32];
    CHAR SerialNumber[32];
    VERSION HWVersion;
    VERSION FirmwareVersion;
    ULONG AlgSymCap, AlgAsymCap, AlgHashCap, DevAuthAlgId, TotalSpace, FreeSpace;
    ULONG MaxECCBufferSize, MaxBufferSize;
    BYTE Reserved[64];
} DEVINFO;
typedef struct { ULONG BitLen; BYTE XCoordinate[64]; BYTE YCoordinate[64]; } ECCPUBLICKEYBLOB;
typedef struct {
    BYTE XCoordinate[64];
    BYTE YCoordinate[64];
    BYTE HASH[32];
    ULONG CipherLen;
    BYTE Cipher[1];
} ECCCIPHERBLOB;
typedef struct { BYTE r[64]; BYTE s[64]; } ECCSIGNATUREBLOB;
typedef struct { BYTE IV[32]; ULONG IVLen; ULONG PaddingType; ULONG FeedBitLen; } BLOCKCIPHERPARAM;
typedef struct { ULONG AlgID; ULONG BitLen; BYTE Modulus[256]; BYTE PublicExponent[4]; } RSAPUBLICKEYBLOB;
#pragma pack(pop)

#define ECC_BLOB_HEADER 164u /* X, Y, HASH, CipherLen */

enum {
    SAR_OK = 0,
    SAR_FAIL = 0x0A000001,
    SAR_NOTSUPPORTYETERR = 0x0A000003,
    SAR_FILEERR = 0x0A000004,
    SAR_INVALIDHANDLEERR = 0x0A000005,
    SAR_INVALIDPARAMERR = 0x0A000006,
    SAR_NOTINITIALIZEERR = 0x0A00000C,
    SAR_MEMORYERR = 0x0A00000E,
    SAR_TIMEOUTERR = 0x0A00000F,
    SAR_INDATALENERR = 0x0A000010,
    SAR_INDATAERR = 0x0A000011,
    SAR_RSADECERR = 0x0A000019,
    SAR_KEYNOTFOUNTERR = 0x0A00001B,
    SAR_CERTNOTFOUNTERR = 0x0A00001C,
    SAR_DECRYPTPADERR = 0x0A00001E,
    SAR_BUFFER_TOO_SMALL = 0x0A000020,
    SAR_DEVICE_REMOVED = 0x0A000023,
    SAR_PIN_INCORRECT = 0x0A000024,
    SAR_PIN_LOCKED = 0x0A000025,
    SAR_USER_TYPE_INVALID = 0x0A00002A,
    SAR_USER_NOT_LOGGED_IN = 0x0A00002D,
    SAR_APPLICATION_NOT_EXISTS = 0x0A00002E,
    SAR_FILE_NOT_EXIST = 0x0A000031,
};

/* ---------------------------------------------------------------- configuration */

#define MAX_NAME 256
#define MAX_FILE 256
#define MAX_FAULTS 16

typedef struct {
    char name[MAX_NAME + 1];
    int type; /* 0 empty, 1 RSA, 2 SM2 */
    char sign_cert[MAX_FILE], sign_key[MAX_FILE], enc_cert[MAX_FILE], enc_key[MAX_FILE];
    long truncate_cert; /* -1: none */
} container_cfg;

typedef struct {
    char name[MAX_NAME + 1];
    char pin[MAX_NAME + 1];
    ULONG max_retries;
    long retries; /* initial tries left; -1: max_retries */
    int ncontainers;
    container_cfg *containers;
} app_cfg;

enum { F_SAR, F_SIZE_LIE, F_SIZE_GROW };
static const char *const FAULT_PREFIX[] = {"fault.sar.", "fault.size-lie.", "fault.size-grow."};

typedef struct {
    char fn[64];
    int kind; /* F_* */
    long value;
} fault;

typedef struct {
    char dir[4096]; /* the device directory */
    char name[MAX_NAME + 1];
    ULONG max_buffer;
    long removed_after; /* -1: never */
    int nfaults;
    fault faults[MAX_FAULTS];
    int napps;
    app_cfg *apps;
} device_cfg;

static void cfg_free(device_cfg *d) {
    if (!d) return;
    for (int i = 0; i < d->napps; i++) free(d->apps[i].containers);
    free(d->apps);
    free(d);
}

static char *trim(char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) *--end = 0;
    return s;
}

static int set_name(char *dst, const char *key, const char *value) {
    if (strcmp(key, "name") == 0) {
        if (strlen(value) > MAX_NAME) return -1;
        strcpy(dst, value);
        return 0;
    }
    size_t n = strlen(value);
    if (n % 2 || n / 2 > MAX_NAME) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned int byte;
        if (sscanf(value + 2 * i, "%2x", &byte) != 1 || byte == 0) return -1;
        dst[i] = (char)byte;
    }
    dst[n / 2] = 0;
    return 0;
}

static int copy_file_name(char *dst, const char *value) {
    if (strlen(value) >= MAX_FILE || strchr(value, '/')) return -1;
    strcpy(dst, value);
    return 0;
}

/* Parse one configuration file (device.conf or the root softskf.conf); NULL when unreadable/invalid. */
static device_cfg *cfg_load(const char *dir, const char *file) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    device_cfg *d = calloc(1, sizeof *d);
    if (!d) { fclose(f); return NULL; }
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    d->max_buffer = 65536;
    d->removed_after = -1;
    int section = 0; /* 0 device, 1 application, 2 container */
    int bad = 0;
    char line[2048];
    while (!bad && fgets(line, sizeof line, f)) {
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        app_cfg *app = d->napps ? &d->apps[d->napps - 1] : NULL;
        container_cfg *con = app && app->ncontainers ? &app->containers[app->ncontainers - 1] : NULL;
        if (strcmp(s, "[application]") == 0) {
            app_cfg *grown = realloc(d->apps, (d->napps + 1) * sizeof *grown);
            if (!grown) { bad = 1; break; }
            d->apps = grown;
            memset(&d->apps[d->napps], 0, sizeof *d->apps);
            d->apps[d->napps].max_retries = 3;
            d->apps[d->napps].retries = -1;
            d->napps++;
            section = 1;
            continue;
        }
        if (strcmp(s, "[container]") == 0) {
            if (!app) { bad = 1; break; }
            container_cfg *grown = realloc(app->containers, (app->ncontainers + 1) * sizeof *grown);
            if (!grown) { bad = 1; break; }
            app->containers = grown;
            memset(&app->containers[app->ncontainers], 0, sizeof *grown);
            app->containers[app->ncontainers].truncate_cert = -1;
            app->ncontainers++;
            section = 2;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) { bad = 1; break; }
        *eq = 0;
        char *key = trim(s), *value = trim(eq + 1);
        int is_name = strcmp(key, "name") == 0 || strcmp(key, "name-hex") == 0;
        if (section == 0) {
            if (is_name) bad = set_name(d->name, key, value);
            else if (strcmp(key, "max-buffer") == 0) d->max_buffer = (ULONG)strtoul(value, NULL, 0);
            else if (strcmp(key, "fault.removed-after") == 0) d->removed_after = strtol(value, NULL, 0);
            else if (strncmp(key, "fault.", 6) == 0 && d->nfaults < MAX_FAULTS) {
                fault *ft = &d->faults[d->nfaults];
                bad = 1;
                for (int kind = F_SAR; bad && kind <= F_SIZE_GROW; kind++) {
                    size_t n = strlen(FAULT_PREFIX[kind]);
                    if (strncmp(key, FAULT_PREFIX[kind], n) == 0 && strlen(key + n) < sizeof ft->fn) {
                        strcpy(ft->fn, key + n);
                        ft->kind = kind;
                        ft->value = (long)strtoul(value, NULL, 0);
                        d->nfaults++;
                        bad = 0;
                    }
                }
            } else bad = 1;
        } else if (section == 1) {
            if (is_name) bad = set_name(app->name, key, value);
            else if (strcmp(key, "pin") == 0 && strlen(value) <= MAX_NAME) strcpy(app->pin, value);
            else if (strcmp(key, "max-retries") == 0) app->max_retries = (ULONG)strtoul(value, NULL, 0);
            else if (strcmp(key, "retries") == 0) app->retries = strtol(value, NULL, 0);
            else bad = 1;
        } else {
            if (is_name) bad = set_name(con->name, key, value);
            else if (strcmp(key, "type") == 0) {
                con->type = strcmp(value, "rsa") == 0 ? 1 : strcmp(value, "sm2") == 0 ? 2 : 0;
                bad = con->type == 0;
            }
            else if (strcmp(key, "sign-cert") == 0) bad = copy_file_name(con->sign_cert, value);
            else if (strcmp(key, "sign-key") == 0) bad = copy_file_name(con->sign_key, value);
            else if (strcmp(key, "enc-cert") == 0) bad = copy_file_name(con->enc_cert, value);
            else if (strcmp(key, "enc-key") == 0) bad = copy_file_name(con->enc_key, value);
            else if (strcmp(key, "fault.truncate-cert") == 0) con->truncate_cert = strtol(value, NULL, 0);
            else bad = 1;
        }
    }
    fclose(f);
    if (bad) {
        fprintf(stderr, "softskf: %s is not a valid configuration\n", path);
        cfg_free(d);
        return NULL;
    }
    return d;
}

static const char *root_dir(void) {
    const char *root = getenv("SOFTSKF_ROOT");
    return root && *root ? root : NULL;
}

/* ---------------------------------------------------------------- persistent state */

#define MAX_STATE 64
typedef struct {
    int n;
    char key[MAX_STATE][MAX_NAME * 2 + 16];
    long long value[MAX_STATE];
} state_t;

static long long st_get(const state_t *s, const char *key, long long fallback) {
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->key[i], key) == 0) return s->value[i];
    return fallback;
}

static void st_set(state_t *s, const char *key, long long value) {
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->key[i], key) == 0) { s->value[i] = value; return; }
    if (s->n == MAX_STATE || strlen(key) >= sizeof s->key[0]) return;
    strcpy(s->key[s->n], key);
    s->value[s->n++] = value;
}

static void st_add(state_t *s, const char *key, long long delta) { st_set(s, key, st_get(s, key, 0) + delta); }

/* Open dir/state locked (exclusive when writing) and read it; returns the fd, -1 on error. */
static int st_open(const char *dir, state_t *s, int write) {
    char path[4400];
    snprintf(path, sizeof path, "%s/state", dir);
    int fd = open(path, write ? O_RDWR | O_CREAT : O_RDONLY, 0644);
    memset(s, 0, sizeof *s);
    if (fd < 0) return errno == ENOENT && !write ? -2 : -1;
    if (flock(fd, write ? LOCK_EX : LOCK_SH) != 0) { close(fd); return -1; }
    FILE *f = fdopen(dup(fd), "r");
    if (f) {
        char key[MAX_NAME * 2 + 16];
        long long value;
        while (fscanf(f, "%527s %lld", key, &value) == 2) st_set(s, key, value);
        fclose(f);
    }
    return fd;
}

static void st_close(int fd, const state_t *s) {
    if (fd < 0) return;
    if (s) {
        char buffer[MAX_STATE * (MAX_NAME * 2 + 40)];
        size_t used = 0;
        for (int i = 0; i < s->n; i++)
            used += (size_t)snprintf(buffer + used, sizeof buffer - used, "%s %lld\n", s->key[i], s->value[i]);
        if (ftruncate(fd, 0) != 0 || pwrite(fd, buffer, used, 0) != (ssize_t)used)
            fprintf(stderr, "softskf: cannot write the state file\n");
    }
    close(fd);
}

static int device_removed(const char *dir) {
    state_t s;
    int fd = st_open(dir, &s, 0);
    int removed = fd >= 0 && st_get(&s, "removed", 0) != 0;
    if (fd >= 0) close(fd);
    return removed;
}

static void retries_key(char *out, const char *app_name) {
    char *p = out + sprintf(out, "retries.");
    for (const unsigned char *c = (const unsigned char *)app_name; *c; c++) p += sprintf(p, "%02x", *c);
}

/* ---------------------------------------------------------------- handles */

enum { H_DEV = 0x53444556, H_APP = 0x53415050, H_CON = 0x53434f4e, H_KEY = 0x534b4559, H_DEAD = 0 };

struct dev { uint32_t magic; device_cfg *cfg, *root; int lockfd; };
struct app { uint32_t magic; struct dev *dev; app_cfg *cfg; int logged_in; };
struct con { uint32_t magic; struct app *app; container_cfg *cfg; };
struct key {
    uint32_t magic;
    struct dev *dev;
    const EVP_CIPHER *cipher;
    BYTE key[32];
    EVP_CIPHER_CTX *ctx;
    int padding, initialised;
};

/* The value of a fault of this kind for fn, from the device's or else the root configuration; -1: none. */
static long find_fault(const struct dev *d, const device_cfg *root, const char *fn, int kind) {
    const device_cfg *where[2] = {d ? d->cfg : NULL, d ? d->root : root};
    for (int w = 0; w < 2; w++)
        for (int i = 0; where[w] && i < where[w]->nfaults; i++)
            if (where[w]->faults[i].kind == kind && strcmp(where[w]->faults[i].fn, fn) == 0)
                return where[w]->faults[i].value;
    return -1;
}

/* A fault.sar code for fn; 0 when none. */
static ULONG injected(const struct dev *d, const device_cfg *root, const char *fn) {
    long code = find_fault(d, root, fn, F_SAR);
    return code > 0 ? (ULONG)code : SAR_OK;
}

static long size_lie(const struct dev *d, const device_cfg *root, const char *fn) {
    return find_fault(d, root, fn, F_SIZE_LIE);
}

static ULONG check_dev(struct dev *d, const char *fn) {
    if (!d || d->magic != H_DEV) return SAR_INVALIDHANDLEERR;
    if (device_removed(d->cfg->dir)) return SAR_DEVICE_REMOVED;
    return injected(d, NULL, fn);
}

/* What closing a handle answers: it is closed anyway, but a removed device says so. */
static ULONG closing(struct dev *d) {
    return d && d->magic == H_DEV && device_removed(d->cfg->dir) ? SAR_DEVICE_REMOVED : SAR_OK;
}

static ULONG check_app(struct app *a, const char *fn) {
    if (!a || a->magic != H_APP) return SAR_INVALIDHANDLEERR;
    return check_dev(a->dev, fn);
}

static ULONG check_con(struct con *c, const char *fn) {
    if (!c || c->magic != H_CON) return SAR_INVALIDHANDLEERR;
    return check_app(c->app, fn);
}

/* The size protocol: NULL asks the size, too small gives SAR_BUFFER_TOO_SMALL and the size. */
static ULONG give(const struct dev *d, const device_cfg *root, const char *fn, const void *data, ULONG len,
                  BYTE *out, ULONG *out_len) {
    if (!out_len) return SAR_INVALIDPARAMERR;
    if (!out) { *out_len = len; return SAR_OK; }
    long grow = find_fault(d, root, fn, F_SIZE_GROW);
    if (grow >= 0) { *out_len += (ULONG)grow; return SAR_BUFFER_TOO_SMALL; } /* never enough */
    if (*out_len < len) { *out_len = len; return SAR_BUFFER_TOO_SMALL; }
    if (len) memcpy(out, data, len);
    long lie = size_lie(d, root, fn);
    *out_len = lie >= 0 ? *out_len + (ULONG)lie : len;
    return SAR_OK;
}

/* Before an output is computed: 1 when the caller only asks the size or gave too small a buffer. */
static int asks_size(ULONG need, const BYTE *out, ULONG *out_len, ULONG *rv) {
    if (out && *out_len >= need) return 0;
    *rv = out ? SAR_BUFFER_TOO_SMALL : SAR_OK;
    *out_len = need;
    return 1;
}

/* Count one key operation (and its own counter); SAR_DEVICE_REMOVED past fault.removed-after. */
static ULONG key_operation(struct dev *d, const char *counter) {
    state_t s;
    int fd = st_open(d->cfg->dir, &s, 1);
    if (fd < 0) return SAR_FILEERR;
    long long done = st_get(&s, "key_operations", 0);
    if (d->cfg->removed_after >= 0 && done >= d->cfg->removed_after) {
        st_set(&s, "removed", 1);
        st_close(fd, &s);
        return SAR_DEVICE_REMOVED;
    }
    st_set(&s, "key_operations", done + 1);
    st_add(&s, counter, 1);
    st_close(fd, &s);
    return SAR_OK;
}

static void count(struct dev *d, const char *counter, long long delta, const char *counter2, long long delta2) {
    state_t s;
    int fd = st_open(d->cfg->dir, &s, 1);
    if (fd < 0) return;
    st_add(&s, counter, delta);
    if (counter2) st_add(&s, counter2, delta2);
    st_close(fd, &s);
}

/* ---------------------------------------------------------------- files and keys */

static BYTE *read_file(const char *dir, const char *name, size_t *len) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    BYTE *data = NULL;
    size_t size = 0, cap = 0, got;
    do {
        if (size == cap) {
            BYTE *grown = realloc(data, cap = cap ? 2 * cap : 4096);
            if (!grown) { free(data); fclose(f); return NULL; }
            data = grown;
        }
        got = fread(data + size, 1, cap - size, f);
        size += got;
    } while (got);
    fclose(f);
    *len = size;
    return data;
}

static EVP_PKEY *load_key(struct con *c, int sign) {
    const char *file = sign ? c->cfg->sign_key : c->cfg->enc_key;
    if (!*file) return NULL;
    size_t len;
    BYTE *pem = read_file(c->app->dev->cfg->dir, file, &len);
    if (!pem) return NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    free(pem);
    return key;
}

/* The public key: from the certificate when there is one, else from the private key. */
static EVP_PKEY *load_public(struct con *c, int sign) {
    const char *file = sign ? c->cfg->sign_cert : c->cfg->enc_cert;
    size_t len;
    BYTE *der = *file ? read_file(c->app->dev->cfg->dir, file, &len) : NULL;
    if (der) {
        const BYTE *p = der;
        X509 *cert = d2i_X509(NULL, &p, (long)len);
        free(der);
        EVP_PKEY *key = cert ? X509_get_pubkey(cert) : NULL;
        X509_free(cert);
        if (key) return key;
    }
    return load_key(c, sign);
}

/* ECCCIPHERBLOB -> DER SM2Cipher { INTEGER x, INTEGER y, OCTET STRING hash, OCTET STRING c2 }. */
static size_t der_length(BYTE *out, size_t n) {
    if (n < 0x80) { if (out) out[0] = (BYTE)n; return 1; }
    int bytes = n > 0xFFFFFF ? 4 : n > 0xFFFF ? 3 : n > 0xFF ? 2 : 1;
    if (out) {
        out[0] = (BYTE)(0x80 | bytes);
        for (int i = 0; i < bytes; i++) out[1 + i] = (BYTE)(n >> (8 * (bytes - 1 - i)));
    }
    return 1 + (size_t)bytes;
}

static size_t der_integer(BYTE *out, const BYTE *value, size_t n) {
    while (n > 1 && value[0] == 0) value++, n--;
    size_t body = n + (value[0] & 0x80 ? 1 : 0), used = 1;
    if (out) out[0] = 0x02;
    used += der_length(out ? out + used : NULL, body);
    if (out && body > n) out[used] = 0;
    if (out) memcpy(out + used + (body - n), value, n);
    return used + body;
}

static size_t der_octets(BYTE *out, const BYTE *value, size_t n) {
    size_t used = 1;
    if (out) out[0] = 0x04;
    used += der_length(out ? out + used : NULL, n);
    if (out) memcpy(out + used, value, n);
    return used + n;
}

static BYTE *sm2_cipher_der(const ECCCIPHERBLOB *blob, size_t *len) {
    size_t body = der_integer(NULL, blob->XCoordinate + 32, 32) + der_integer(NULL, blob->YCoordinate + 32, 32)
                + der_octets(NULL, blob->HASH, 32) + der_octets(NULL, blob->Cipher, blob->CipherLen);
    size_t total = 1 + der_length(NULL, body) + body;
    BYTE *der = malloc(total), *p = der;
    if (!der) return NULL;
    *p++ = 0x30;
    p += der_length(p, body);
    p += der_integer(p, blob->XCoordinate + 32, 32);
    p += der_integer(p, blob->YCoordinate + 32, 32);
    p += der_octets(p, blob->HASH, 32);
    der_octets(p, blob->Cipher, blob->CipherLen);
    *len = total;
    return der;
}

/* Decrypt with a private key: SM2 (DER SM2Cipher) or RSA PKCS#1 v1.5. Returns malloc'd plaintext. */
static BYTE *private_decrypt(EVP_PKEY *key, int rsa, const BYTE *in, size_t in_len, size_t *out_len) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    BYTE *out = NULL;
    size_t len = 0;
    if (!ctx || EVP_PKEY_decrypt_init(ctx) <= 0) goto done;
    if (rsa) {
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) goto done;
        EVP_PKEY_CTX_ctrl_str(ctx, "rsa_pkcs1_implicit_rejection", "0"); /* OpenSSL >= 3.2: fail, not random */
    }
    if (EVP_PKEY_decrypt(ctx, NULL, &len, in, in_len) <= 0 || !(out = malloc(len ? len : 1))) goto done;
    if (EVP_PKEY_decrypt(ctx, out, &len, in, in_len) <= 0) { free(out); out = NULL; goto done; }
    *out_len = len;
done:
    EVP_PKEY_CTX_free(ctx);
    return out;
}

/* The wrapped key of SKF_ImportSessionKey / the fast path, decrypted with the encryption key pair. */
static ULONG unwrap(struct con *c, const BYTE *in, ULONG in_len, BYTE **plain, size_t *plain_len) {
    if (!in) return SAR_INVALIDPARAMERR;
    int rsa = c->cfg->type == 1;
    const BYTE *der = in;
    size_t der_len = in_len;
    BYTE *rebuilt = NULL;
    if (!rsa) {
        const ECCCIPHERBLOB *blob = (const ECCCIPHERBLOB *)in;
        if (in_len < ECC_BLOB_HEADER || blob->CipherLen == 0 || blob->CipherLen > in_len - ECC_BLOB_HEADER)
            return SAR_INDATALENERR;
        if (!(rebuilt = sm2_cipher_der(blob, &der_len))) return SAR_MEMORYERR;
        der = rebuilt;
    }
    EVP_PKEY *key = load_key(c, 0);
    if (!key) { free(rebuilt); return SAR_KEYNOTFOUNTERR; }
    *plain = private_decrypt(key, rsa, der, der_len, plain_len);
    EVP_PKEY_free(key);
    free(rebuilt);
    return *plain ? SAR_OK : rsa ? SAR_RSADECERR : SAR_INDATAERR;
}

/* ---------------------------------------------------------------- devices */

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* Every present device (not removed), in directory order; *count set; NULL on none. */
static device_cfg **scan(int *count) {
    *count = 0;
    const char *root = root_dir();
    if (!root) return NULL;
    struct dirent **entries;
    int n = scandir(root, &entries, NULL, by_name);
    if (n < 0) return NULL;
    device_cfg **found = calloc((size_t)n + 1, sizeof *found);
    for (int i = 0; i < n; i++) {
        if (found && entries[i]->d_name[0] != '.') {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/%s", root, entries[i]->d_name);
            device_cfg *d = cfg_load(dir, "device.conf");
            if (d && *d->name && !device_removed(dir)) found[(*count)++] = d;
            else cfg_free(d);
        }
        free(entries[i]);
    }
    free(entries);
    return found;
}

static void scan_free(device_cfg **found, int count, device_cfg *keep) {
    for (int i = 0; i < count; i++)
        if (found[i] != keep) cfg_free(found[i]);
    free(found);
}

static device_cfg *root_cfg(void) {
    const char *root = root_dir();
    return root ? cfg_load(root, "softskf.conf") : NULL;
}

/* A list of names: each ended by a NUL, the whole by one more. */
static ULONG give_list(const struct dev *d, const device_cfg *root, const char *fn, const char **names, int n,
                       LPSTR out, ULONG *out_len) {
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(names[i]) + 1;
    char *list = calloc(1, len), *p = list;
    if (!list) return SAR_MEMORYERR;
    for (int i = 0; i < n; i++) p = stpcpy(p, names[i]) + 1;
    ULONG rv = give(d, root, fn, list, (ULONG)len, (BYTE *)out, out_len);
    free(list);
    return rv;
}

EXPORT ULONG SKF_EnumDev(BOOL bPresent, LPSTR szNameList, ULONG *pulSize) {
    (void)bPresent;
    device_cfg *root = root_cfg();
    ULONG rv = injected(NULL, root, "SKF_EnumDev");
    if (!rv) {
        int n;
        device_cfg **found = scan(&n);
        const char **names = calloc((size_t)n + 1, sizeof *names);
        for (int i = 0; names && i < n; i++) names[i] = found[i]->name;
        rv = names ? give_list(NULL, root, "SKF_EnumDev", names, n, szNameList, pulSize) : SAR_MEMORYERR;
        free(names);
        scan_free(found, n, NULL);
    }
    cfg_free(root);
    return rv;
}

EXPORT ULONG SKF_ConnectDev(LPSTR szName, DEVHANDLE *phDev) {
    if (!szName || !phDev) return SAR_INVALIDPARAMERR;
    device_cfg *root = root_cfg();
    ULONG rv = injected(NULL, root, "SKF_ConnectDev");
    int n = 0;
    device_cfg **found = rv ? NULL : scan(&n), *chosen = NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(found[i]->name, szName) == 0) chosen = found[i];
    scan_free(found, n, chosen);
    if (!rv && !chosen) rv = SAR_DEVICE_REMOVED; /* not plugged in */
    if (!rv) rv = injected(&(struct dev){H_DEV, chosen, NULL, -1}, NULL, "SKF_ConnectDev");
    struct dev *d = rv ? NULL : malloc(sizeof *d);
    if (!rv && !d) rv = SAR_MEMORYERR;
    if (rv) {
        cfg_free(chosen);
        cfg_free(root);
        return rv;
    }
    *d = (struct dev){H_DEV, chosen, root, -1};
    *phDev = d;
    return SAR_OK;
}

EXPORT ULONG SKF_DisConnectDev(DEVHANDLE hDev) {
    struct dev *d = hDev;
    if (!d || d->magic != H_DEV) return SAR_INVALIDHANDLEERR;
    ULONG rv = closing(d);
    if (d->lockfd >= 0) close(d->lockfd);
    d->magic = H_DEAD; /* children keep a pointer to it: never freed, only the configuration is */
    cfg_free(d->cfg);
    cfg_free(d->root);
    d->cfg = d->root = NULL;
    return rv;
}

/* A fixed-size text field of DEVINFO: the text, cut to the field, NUL-padded when shorter. */
static void fill(CHAR *field, size_t size, const char *text) {
    size_t n = strlen(text);
    memcpy(field, text, n < size ? n : size);
}

EXPORT ULONG SKF_GetDevInfo(DEVHANDLE hDev, DEVINFO *pDevInfo) {
    struct dev *d = hDev;
    ULONG rv = check_dev(d, "SKF_GetDevInfo");
    if (rv) return rv;
    if (!pDevInfo) return SAR_INVALIDPARAMERR;
    memset(pDevInfo, 0, sizeof *pDevInfo);
    pDevInfo->Version = (VERSION){1, 0};
    snprintf(pDevInfo->Manufacturer, sizeof pDevInfo->Manufacturer, "softskf (bidcrypt test double)");
    snprintf(pDevInfo->Issuer, sizeof pDevInfo->Issuer, "bidcrypt tests");
    fill(pDevInfo->Label, sizeof pDevInfo->Label, d->cfg->name);
    const char *slash = strrchr(d->cfg->dir, '/');
    fill(pDevInfo->SerialNumber, sizeof pDevInfo->SerialNumber, slash ? slash + 1 : d->cfg->dir);
    pDevInfo->HWVersion = pDevInfo->FirmwareVersion = (VERSION){1, 0};
    pDevInfo->AlgSymCap = 0x00000402;  /* SGD_SM4_CBC */
    pDevInfo->AlgAsymCap = 0x00010000 | 0x00020100; /* SGD_RSA, SGD_SM2_1 */
    pDevInfo->AlgHashCap = 0x00000001; /* SGD_SM3 */
    pDevInfo->TotalSpace = pDevInfo->FreeSpace = 1u << 20;
    pDevInfo->MaxECCBufferSize = 1024;
    pDevInfo->MaxBufferSize = d->cfg->max_buffer;
    return SAR_OK;
}

EXPORT ULONG SKF_LockDev(DEVHANDLE hDev, ULONG ulTimeOut) {
    struct dev *d = hDev;
    ULONG rv = check_dev(d, "SKF_LockDev");
    if (rv) return rv;
    if (d->lockfd >= 0) return SAR_OK;
    char path[4400];
    snprintf(path, sizeof path, "%s/lock", d->cfg->dir);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) return SAR_FILEERR;
    for (ULONG waited = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; waited += 10) {
        if (ulTimeOut != 0xFFFFFFFF && waited >= ulTimeOut) { close(fd); return SAR_TIMEOUTERR; }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    d->lockfd = fd;
    return SAR_OK;
}

EXPORT ULONG SKF_UnlockDev(DEVHANDLE hDev) {
    struct dev *d = hDev;
    ULONG rv = check_dev(d, "SKF_UnlockDev");
    if (rv) return rv;
    if (d->lockfd >= 0) close(d->lockfd);
    d->lockfd = -1;
    return SAR_OK;
}

/* ---------------------------------------------------------------- applications and PIN */

EXPORT ULONG SKF_EnumApplication(DEVHANDLE hDev, LPSTR szAppName, ULONG *pulSize) {
    struct dev *d = hDev;
    ULONG rv = check_dev(d, "SKF_EnumApplication");
    if (rv) return rv;
    const char *names[d->cfg->napps + 1];
    for (int i = 0; i < d->cfg->napps; i++) names[i] = d->cfg->apps[i].name;
    return give_list(d, NULL, "SKF_EnumApplication", names, d->cfg->napps, szAppName, pulSize);
}

EXPORT ULONG SKF_OpenApplication(DEVHANDLE hDev, LPSTR szAppName, HAPPLICATION *phApplication) {
    struct dev *d = hDev;
    ULONG rv = check_dev(d, "SKF_OpenApplication");
    if (rv) return rv;
    if (!szAppName || !phApplication) return SAR_INVALIDPARAMERR;
    for (int i = 0; i < d->cfg->napps; i++) {
        if (strcmp(d->cfg->apps[i].name, szAppName) == 0) {
            struct app *a = calloc(1, sizeof *a);
            if (!a) return SAR_MEMORYERR;
            *a = (struct app){H_APP, d, &d->cfg->apps[i], 0};
            *phApplication = a;
            return SAR_OK;
        }
    }
    return SAR_APPLICATION_NOT_EXISTS;
}

EXPORT ULONG SKF_CloseApplication(HAPPLICATION hApplication) {
    struct app *a = hApplication;
    if (!a || a->magic != H_APP) return SAR_INVALIDHANDLEERR;
    a->magic = H_DEAD;
    return closing(a->dev);
}

static long retries_left(struct app *a, state_t *s) {
    char key[MAX_NAME * 2 + 16];
    retries_key(key, a->cfg->name);
    long initial = a->cfg->retries >= 0 ? a->cfg->retries : (long)a->cfg->max_retries;
    return (long)st_get(s, key, initial);
}

EXPORT ULONG SKF_GetPINInfo(HAPPLICATION hApplication, ULONG ulPINType, ULONG *pulMaxRetryCount,
                            ULONG *pulRemainRetryCount, BOOL *pbDefaultPin) {
    struct app *a = hApplication;
    ULONG rv = check_app(a, "SKF_GetPINInfo");
    if (rv) return rv;
    if (ulPINType != 1) return SAR_USER_TYPE_INVALID;
    if (!pulMaxRetryCount || !pulRemainRetryCount || !pbDefaultPin) return SAR_INVALIDPARAMERR;
    state_t s;
    int fd = st_open(a->dev->cfg->dir, &s, 0);
    if (fd == -1) return SAR_FILEERR;
    *pulMaxRetryCount = a->cfg->max_retries;
    *pulRemainRetryCount = (ULONG)retries_left(a, &s);
    *pbDefaultPin = 0;
    if (fd >= 0) close(fd);
    return SAR_OK;
}

EXPORT ULONG SKF_VerifyPIN(HAPPLICATION hApplication, ULONG ulPINType, LPSTR szPIN, ULONG *pulRetryCount) {
    struct app *a = hApplication;
    ULONG rv = check_app(a, "SKF_VerifyPIN");
    if (rv) return rv;
    if (ulPINType != 1) return SAR_USER_TYPE_INVALID;
    if (!szPIN || !pulRetryCount) return SAR_INVALIDPARAMERR;
    state_t s;
    int fd = st_open(a->dev->cfg->dir, &s, 1);
    if (fd < 0) return SAR_FILEERR;
    st_add(&s, "verify_pin", 1);
    char key[MAX_NAME * 2 + 16];
    retries_key(key, a->cfg->name);
    long left = retries_left(a, &s);
    a->logged_in = 0;
    if (left <= 0) {
        rv = SAR_PIN_LOCKED; /* no try is taken */
        *pulRetryCount = 0;
    } else if (strcmp(szPIN, a->cfg->pin) == 0) {
        st_set(&s, key, a->cfg->max_retries);
        a->logged_in = 1;
    } else {
        st_set(&s, key, left - 1);
        st_add(&s, "verify_pin_failed", 1);
        *pulRetryCount = (ULONG)(left - 1);
        rv = SAR_PIN_INCORRECT;
    }
    st_close(fd, &s);
    return rv;
}

EXPORT ULONG SKF_ClearSecureState(HAPPLICATION hApplication) {
    struct app *a = hApplication;
    ULONG rv = check_app(a, "SKF_ClearSecureState");
    if (rv) return rv;
    a->logged_in = 0;
    return SAR_OK;
}

/* ---------------------------------------------------------------- containers */

EXPORT ULONG SKF_EnumContainer(HAPPLICATION hApplication, LPSTR szContainerName, ULONG *pulSize) {
    struct app *a = hApplication;
    ULONG rv = check_app(a, "SKF_EnumContainer");
    if (rv) return rv;
    const char *names[a->cfg->ncontainers + 1];
    for (int i = 0; i < a->cfg->ncontainers; i++) names[i] = a->cfg->containers[i].name;
    return give_list(a->dev, NULL, "SKF_EnumContainer", names, a->cfg->ncontainers, szContainerName, pulSize);
}

EXPORT ULONG SKF_OpenContainer(HAPPLICATION hApplication, LPSTR szContainerName, HCONTAINER *phContainer) {
    struct app *a = hApplication;
    ULONG rv = check_app(a, "SKF_OpenContainer");
    if (rv) return rv;
    if (!szContainerName || !phContainer) return SAR_INVALIDPARAMERR;
    for (int i = 0; i < a->cfg->ncontainers; i++) {
        if (strcmp(a->cfg->containers[i].name, szContainerName) == 0) {
            struct con *c = calloc(1, sizeof *c);
            if (!c) return SAR_MEMORYERR;
            *c = (struct con){H_CON, a, &a->cfg->containers[i]};
            *phContainer = c;
            return SAR_OK;
        }
    }
    return SAR_FILE_NOT_EXIST;
}

EXPORT ULONG SKF_CloseContainer(HCONTAINER hContainer) {
    struct con *c = hContainer;
    if (!c || c->magic != H_CON) return SAR_INVALIDHANDLEERR;
    c->magic = H_DEAD;
    return closing(c->app->dev);
}

EXPORT ULONG SKF_GetContainerType(HCONTAINER hContainer, ULONG *pulContainerType) {
    struct con *c = hContainer;
    ULONG rv = check_con(c, "SKF_GetContainerType");
    if (rv) return rv;
    if (!pulContainerType) return SAR_INVALIDPARAMERR;
    *pulContainerType = (ULONG)c->cfg->type;
    return SAR_OK;
}

EXPORT ULONG SKF_ExportCertificate(HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbCert, ULONG *pulCertLen) {
    struct con *c = hContainer;
    ULONG rv = check_con(c, "SKF_ExportCertificate");
    if (rv) return rv;
    const char *file = bSignFlag ? c->cfg->sign_cert : c->cfg->enc_cert;
    size_t len;
    BYTE *der = *file ? read_file(c->app->dev->cfg->dir, file, &len) : NULL;
    if (!der) return SAR_CERTNOTFOUNTERR;
    if (c->cfg->truncate_cert >= 0 && (size_t)c->cfg->truncate_cert < len) len = (size_t)c->cfg->truncate_cert;
    rv = give(c->app->dev, NULL, "SKF_ExportCertificate", der, (ULONG)len, pbCert, pulCertLen);
    free(der);
    return rv;
}

EXPORT ULONG SKF_ExportPublicKey(HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbBlob, ULONG *pulBlobLen) {
    struct con *c = hContainer;
    ULONG rv = check_con(c, "SKF_ExportPublicKey");
    if (rv) return rv;
    EVP_PKEY *key = load_public(c, bSignFlag);
    if (!key) return SAR_KEYNOTFOUNTERR;
    union { ECCPUBLICKEYBLOB ecc; RSAPUBLICKEYBLOB rsa; } blob;
    memset(&blob, 0, sizeof blob);
    ULONG size = 0;
    rv = SAR_NOTSUPPORTYETERR;
    if (c->cfg->type == 2) {
        BYTE point[65];
        size_t len = 0;
        if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len) && len == 65) {
            blob.ecc.BitLen = 256;
            memcpy(blob.ecc.XCoordinate + 32, point + 1, 32);
            memcpy(blob.ecc.YCoordinate + 32, point + 33, 32);
            size = sizeof blob.ecc;
            rv = SAR_OK;
        }
    } else if (c->cfg->type == 1) {
        BIGNUM *n = NULL, *e = NULL;
        if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) && EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e)
            && BN_num_bytes(n) <= 256 && BN_num_bytes(e) <= 4) {
            blob.rsa.AlgID = 0x00010000; /* SGD_RSA */
            blob.rsa.BitLen = (ULONG)BN_num_bits(n);
            BN_bn2binpad(n, blob.rsa.Modulus, 256);
            BN_bn2binpad(e, blob.rsa.PublicExponent, 4);
            size = sizeof blob.rsa;
            rv = SAR_OK;
        }
        BN_free(n);
        BN_free(e);
    }
    EVP_PKEY_free(key);
    return rv ? rv : give(c->app->dev, NULL, "SKF_ExportPublicKey", &blob, size, pbBlob, pulBlobLen);
}

/* ---------------------------------------------------------------- signing */

static ULONG ready_for_key(struct con *c, const char *fn, int type) {
    ULONG rv = check_con(c, fn);
    if (rv) return rv;
    if (!c->app->logged_in) return SAR_USER_NOT_LOGGED_IN;
    return c->cfg->type == type ? SAR_OK : SAR_NOTSUPPORTYETERR;
}

EXPORT ULONG SKF_ECCSignData(HCONTAINER hContainer, BYTE *pbDigest, ULONG ulDigestLen, ECCSIGNATUREBLOB *pSignature) {
    struct con *c = hContainer;
    ULONG rv = ready_for_key(c, "SKF_ECCSignData", 2);
    if (rv) return rv;
    if (!pbDigest || ulDigestLen != 32 || !pSignature) return SAR_INVALIDPARAMERR;
    EVP_PKEY *key = load_key(c, 1);
    if (!key) return SAR_KEYNOTFOUNTERR;
    if ((rv = key_operation(c->app->dev, "sign"))) { EVP_PKEY_free(key); return rv; }
    /* OpenSSL's SM2 signature over a given digest is the raw SM2 signature of e: no Z is added. */
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    BYTE der[128];
    size_t len = sizeof der;
    rv = SAR_FAIL;
    if (ctx && EVP_PKEY_sign_init(ctx) > 0 && EVP_PKEY_sign(ctx, der, &len, pbDigest, 32) > 0) {
        const BYTE *p = der;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
        if (sig) {
            memset(pSignature, 0, sizeof *pSignature);
            BN_bn2binpad(ECDSA_SIG_get0_r(sig), pSignature->r + 32, 32);
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), pSignature->s + 32, 32);
            ECDSA_SIG_free(sig);
            rv = SAR_OK;
        }
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rv;
}

EXPORT ULONG SKF_RSASignData(HCONTAINER hContainer, BYTE *pbData, ULONG ulDataLen, BYTE *pbSignature, ULONG *pulSignLen) {
    struct con *c = hContainer;
    ULONG rv = ready_for_key(c, "SKF_RSASignData", 1);
    if (rv) return rv;
    if (!pbData || !pulSignLen) return SAR_INVALIDPARAMERR;
    EVP_PKEY *key = load_key(c, 1);
    if (!key) return SAR_KEYNOTFOUNTERR;
    ULONG size = (ULONG)EVP_PKEY_get_size(key);
    if (asks_size(size, pbSignature, pulSignLen, &rv)) {
        EVP_PKEY_free(key);
        return rv;
    }
    if ((rv = key_operation(c->app->dev, "sign"))) { EVP_PKEY_free(key); return rv; }
    /* PKCS#1 v1.5 type-1 padding of the DigestInfo as given: no digest set on the context. */
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    BYTE *sig = malloc(size);
    size_t len = size;
    rv = SAR_FAIL;
    if (ctx && sig && EVP_PKEY_sign_init(ctx) > 0 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0) {
        rv = EVP_PKEY_sign(ctx, sig, &len, pbData, ulDataLen) > 0
                 ? give(c->app->dev, NULL, "SKF_RSASignData", sig, (ULONG)len, pbSignature, pulSignLen)
                 : SAR_INDATALENERR;
    }
    free(sig);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rv;
}

/* ---------------------------------------------------------------- session keys */

static const EVP_CIPHER *cipher_of(ULONG alg) {
    switch (alg) {
    case 0x00000402: return EVP_sm4_cbc();
    case 0x80000102: return EVP_aes_128_cbc();
    case 0x80000202: return EVP_aes_192_cbc();
    case 0x80000402: return EVP_aes_256_cbc();
    default: return NULL;
    }
}

EXPORT ULONG SKF_ImportSessionKey(HCONTAINER hContainer, ULONG ulAlgId, BYTE *pbWrapedData, ULONG ulWrapedLen,
                                  HANDLE *phKey) {
    struct con *c = hContainer;
    ULONG rv = check_con(c, "SKF_ImportSessionKey");
    if (rv) return rv;
    if (!c->app->logged_in) return SAR_USER_NOT_LOGGED_IN;
    if (c->cfg->type != 1 && c->cfg->type != 2) return SAR_KEYNOTFOUNTERR;
    const EVP_CIPHER *cipher = cipher_of(ulAlgId);
    if (!cipher) return SAR_NOTSUPPORTYETERR;
    if (!pbWrapedData || !phKey) return SAR_INVALIDPARAMERR;
    if ((rv = key_operation(c->app->dev, "import_session_key"))) return rv;
    BYTE *plain;
    size_t len;
    if ((rv = unwrap(c, pbWrapedData, ulWrapedLen, &plain, &len))) return rv;
    if ((int)len != EVP_CIPHER_get_key_length(cipher)) { OPENSSL_clear_free(plain, len); return SAR_INDATAERR; }
    struct key *k = calloc(1, sizeof *k);
    if (!k || !(k->ctx = EVP_CIPHER_CTX_new())) { free(k); OPENSSL_clear_free(plain, len); return SAR_MEMORYERR; }
    k->magic = H_KEY;
    k->dev = c->app->dev;
    k->cipher = cipher;
    memcpy(k->key, plain, len);
    OPENSSL_clear_free(plain, len);
    *phKey = k;
    return SAR_OK;
}

static ULONG check_key(struct key *k, const char *fn) {
    if (!k || k->magic != H_KEY) return SAR_INVALIDHANDLEERR;
    return check_dev(k->dev, fn);
}

EXPORT ULONG SKF_DecryptInit(HANDLE hKey, BLOCKCIPHERPARAM DecryptParam) {
    struct key *k = hKey;
    ULONG rv = check_key(k, "SKF_DecryptInit");
    if (rv) return rv;
    if (DecryptParam.IVLen != 16 || DecryptParam.PaddingType > 1) return SAR_INVALIDPARAMERR;
    if (EVP_DecryptInit_ex(k->ctx, k->cipher, NULL, k->key, DecryptParam.IV) <= 0) return SAR_FAIL;
    EVP_CIPHER_CTX_set_padding(k->ctx, (int)DecryptParam.PaddingType);
    k->padding = (int)DecryptParam.PaddingType;
    k->initialised = 1;
    return SAR_OK;
}

EXPORT ULONG SKF_DecryptUpdate(HANDLE hKey, BYTE *pbEncryptedData, ULONG ulEncryptedLen, BYTE *pbData,
                               ULONG *pulDataLen) {
    struct key *k = hKey;
    ULONG rv = check_key(k, "SKF_DecryptUpdate");
    if (rv) return rv;
    if (!k->initialised) return SAR_NOTINITIALIZEERR;
    if (!pbEncryptedData || !pulDataLen) return SAR_INVALIDPARAMERR;
    if (ulEncryptedLen > k->dev->cfg->max_buffer || ulEncryptedLen % 16) return SAR_INDATALENERR;
    ULONG need = ulEncryptedLen + (k->padding ? 16 : 0);
    if (asks_size(need, pbData, pulDataLen, &rv)) return rv;
    int out = 0;
    if (EVP_DecryptUpdate(k->ctx, pbData, &out, pbEncryptedData, (int)ulEncryptedLen) <= 0) return SAR_FAIL;
    count(k->dev, "decrypt_update", 1, "decrypt_update_bytes", ulEncryptedLen);
    long lie = size_lie(k->dev, NULL, "SKF_DecryptUpdate");
    *pulDataLen = lie >= 0 ? *pulDataLen + (ULONG)lie : (ULONG)out;
    return SAR_OK;
}

EXPORT ULONG SKF_DecryptFinal(HANDLE hKey, BYTE *pbDecryptedData, ULONG *pulDecryptedDataLen) {
    struct key *k = hKey;
    ULONG rv = check_key(k, "SKF_DecryptFinal");
    if (rv) return rv;
    if (!k->initialised) return SAR_NOTINITIALIZEERR;
    if (!pulDecryptedDataLen) return SAR_INVALIDPARAMERR;
    ULONG need = k->padding ? 16 : 0;
    if (asks_size(need, pbDecryptedData, pulDecryptedDataLen, &rv)) return rv;
    BYTE block[32];
    int out = 0;
    k->initialised = 0;
    if (EVP_DecryptFinal_ex(k->ctx, block, &out) <= 0) return k->padding ? SAR_DECRYPTPADERR : SAR_INDATALENERR;
    return give(k->dev, NULL, "SKF_DecryptFinal", block, (ULONG)out, pbDecryptedData, pulDecryptedDataLen);
}

EXPORT ULONG SKF_CloseHandle(HANDLE hHandle) {
    struct key *k = hHandle;
    if (!k || k->magic != H_KEY) return SAR_INVALIDHANDLEERR;
    EVP_CIPHER_CTX_free(k->ctx);
    OPENSSL_cleanse(k->key, sizeof k->key);
    k->magic = H_DEAD;
    return closing(k->dev);
}

/* ---------------------------------------------------------------- the fast path (not in GM/T 0016-2012) */

#ifndef SOFTSKF_NO_FAST_PATH
static ULONG fast_decrypt(struct con *c, const char *fn, int type, const BYTE *in, ULONG in_len, ULONG size_hint,
                          BYTE *out, ULONG *out_len) {
    ULONG rv = ready_for_key(c, fn, type);
    if (rv) return rv;
    if (!in || !out_len) return SAR_INVALIDPARAMERR;
    if (!out || (type == 2 && *out_len < size_hint)) /* SM2: the size is known before decrypting */
        return asks_size(size_hint, out, out_len, &rv), rv;
    if ((rv = key_operation(c->app->dev, "private_decrypt"))) return rv;
    BYTE *plain;
    size_t len;
    if ((rv = unwrap(c, in, in_len, &plain, &len))) return rv;
    rv = give(c->app->dev, NULL, fn, plain, (ULONG)len, out, out_len);
    OPENSSL_clear_free(plain, len);
    return rv;
}

EXPORT ULONG SKF_ECCDecrypt(HCONTAINER hContainer, ECCCIPHERBLOB *pCipherText, BYTE *pbPlainText,
                            ULONG *pulPlainTextLen) {
    if (!pCipherText) return SAR_INVALIDPARAMERR;
    ULONG len = pCipherText->CipherLen;
    if (len == 0 || len > (1u << 20)) return SAR_INDATALENERR;
    return fast_decrypt(hContainer, "SKF_ECCDecrypt", 2, (const BYTE *)pCipherText, ECC_BLOB_HEADER + len, len,
                        pbPlainText, pulPlainTextLen);
}

EXPORT ULONG SKF_RSAPriKeyDecrypt(HCONTAINER hContainer, BYTE *pbIn, ULONG ulInLen, BYTE *pbOut, ULONG *pulOutLen) {
    return fast_decrypt(hContainer, "SKF_RSAPriKeyDecrypt", 1, pbIn, ulInLen, ulInLen, pbOut, pulOutLen);
}
#endif
