/* evio-tincan's node certificate (see cert.h): created once, reused on every
 * restart so the fingerprint the node agent advertises stays valid. */
#include "evio/cert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "evio/log.h"

#define CERT_MOD "dtls"
#define CERT_VALID_DAYS (3650L)

static char *cert_errf(const char *fmt, const char *a, const char *b)
{
    char *s = NULL;
    if (asprintf(&s, fmt, a, b) < 0)
        s = NULL;
    return s;
}

bool cert_key_fp(X509 *x509, uint8_t fp[CERT_FP_LEN])
{
    /* the key, not the certificate: a certificate made again for the same
     * key (a new validity period, say) keeps the node's identity */
    unsigned char *der = NULL;
    int len = x509 ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509), &der) : -1;
    unsigned int n = 0;
    bool ok = len > 0 && EVP_Digest(der, (size_t)len, fp, &n, EVP_sha256(), NULL)
              && n == CERT_FP_LEN;
    OPENSSL_free(der);
    return ok;
}

static bool cert_fingerprint(struct cert *c)
{
    if (!cert_key_fp(c->x509, c->fp))
        return false;
    cert_fp_format(c->fp, c->fp_str);
    return true;
}

bool cert_generate(struct cert *c)
{
    memset(c, 0, sizeof *c);
    c->key = EVP_EC_gen("P-256");
    c->x509 = X509_new();
    if (!c->key || !c->x509)
        goto fail;

    /* A random serial keeps two nodes' certificates distinct even if they
     * were made in the same second with the same subject. */
    uint8_t serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1)
        goto fail;
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c->x509))) {
        BN_free(bn);
        goto fail;
    }
    BN_free(bn);

    X509_NAME *name = X509_get_subject_name(c->x509);
    if (!X509_set_version(c->x509, 2)
        || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       (const unsigned char *)"evio-tincan", -1, -1, 0)
        || !X509_set_issuer_name(c->x509, name)
        /* backdated a day so peers with a slightly slow clock accept it */
        || !X509_gmtime_adj(X509_getm_notBefore(c->x509), -86400L)
        || !X509_gmtime_adj(X509_getm_notAfter(c->x509), CERT_VALID_DAYS * 86400L)
        || !X509_set_pubkey(c->x509, c->key)
        || !X509_sign(c->x509, c->key, EVP_sha256())
        || !cert_fingerprint(c))
        goto fail;
    return true;

fail:
    cert_clear(c);
    return false;
}

void cert_clear(struct cert *c)
{
    X509_free(c->x509);
    EVP_PKEY_free(c->key);   /* frees (and cleanses) the private key */
    memset(c, 0, sizeof *c);
}

/* Writes the PEM in BIO to PATH atomically (tmp + rename) with MODE. */
static int cert_write_file(const char *path, BIO *pem, mode_t mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return ENAMETOOLONG;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return errno;
    char *data;
    long len = BIO_get_mem_data(pem, &data);
    int err = 0;
    while (len > 0) {
        ssize_t n = write(fd, data, (size_t)len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        data += n;
        len -= n;
    }
    if (!err && fsync(fd) < 0)
        err = errno;
    close(fd);
    if (!err && rename(tmp, path) < 0)
        err = errno;
    if (err)
        unlink(tmp);
    return err;
}

static int cert_save(const struct cert *c, const char *key_path, const char *crt_path,
                     char **err)
{
    /* secure-heap BIO: the PEM text of the key is wiped when freed */
    BIO *kb = BIO_new(BIO_s_secmem());
    BIO *cb = BIO_new(BIO_s_mem());
    int rc = ENOMEM;
    if (!kb || !cb || !PEM_write_bio_PrivateKey(kb, c->key, NULL, NULL, 0, NULL, NULL)
        || !PEM_write_bio_X509(cb, c->x509)) {
        *err = cert_errf("%s: cannot encode the new key%s", key_path, "");
        goto out;
    }
    rc = cert_write_file(key_path, kb, 0600);
    if (rc) {
        *err = cert_errf("%s: %s", key_path, strerror(rc));
        goto out;
    }
    rc = cert_write_file(crt_path, cb, 0644);
    if (rc)
        *err = cert_errf("%s: %s", crt_path, strerror(rc));
out:
    BIO_free(kb);
    BIO_free(cb);
    return rc;
}

/* Reads the PEM private key at PATH through a buffer that is wiped after,
 * not through stdio, whose buffer would keep a copy of the key. */
static EVP_PKEY *cert_read_key(const char *path, int *err)
{
    char buf[16384];
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof buf)
            break;
    }
    close(fd);
    EVP_PKEY *key = NULL;
    BIO *b = len < sizeof buf ? BIO_new_mem_buf(buf, (int)len) : NULL;
    if (b)
        key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    OPENSSL_cleanse(buf, sizeof buf);
    *err = key ? 0 : EINVAL;
    return key;
}

static int cert_load(struct cert *c, const char *key_path, const char *crt_path, char **err)
{
    memset(c, 0, sizeof *c);
    int e = 0;
    c->key = cert_read_key(key_path, &e);
    if (e && e != EINVAL) {
        *err = cert_errf("%s: %s", key_path, strerror(e));
        return e;
    }
    FILE *cf = fopen(crt_path, "re");
    if (!cf) {
        e = errno;
        *err = cert_errf("%s: %s", crt_path, strerror(e));
        cert_clear(c);
        return e;
    }
    c->x509 = PEM_read_X509(cf, NULL, NULL, NULL);
    fclose(cf);
    ERR_clear_error();
    if (!c->key || !c->x509) {
        *err = cert_errf("%s: not a PEM %s", !c->key ? key_path : crt_path,
                         !c->key ? "private key" : "certificate");
        cert_clear(c);
        return EINVAL;
    }
    if (EVP_PKEY_get_base_id(c->key) != EVP_PKEY_EC || !X509_check_private_key(c->x509, c->key)) {
        ERR_clear_error();
        *err = cert_errf("%s: not the EC key of %s", key_path, crt_path);
        cert_clear(c);
        return EINVAL;
    }
    if (!cert_fingerprint(c)) {
        *err = cert_errf("%s: cannot hash the certificate%s", crt_path, "");
        cert_clear(c);
        return EINVAL;
    }
    return 0;
}

int cert_load_or_create(const char *state_dir, struct cert *c, char **err)
{
    char key_path[4096], crt_path[4096];
    *err = NULL;
    memset(c, 0, sizeof *c);
    if (snprintf(key_path, sizeof key_path, "%s/tincan.key", state_dir) >= (int)sizeof key_path
        || snprintf(crt_path, sizeof crt_path, "%s/tincan.crt", state_dir) >= (int)sizeof crt_path) {
        *err = cert_errf("%s: path too long%s", state_dir, "");
        return ENAMETOOLONG;
    }
    if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        *err = cert_errf("%s: %s", state_dir, strerror(e));
        return e;
    }

    bool have_key = access(key_path, F_OK) == 0;
    bool have_crt = access(crt_path, F_OK) == 0;
    if (have_key && have_crt)
        return cert_load(c, key_path, crt_path, err);
    if (have_key != have_crt) {
        /* never overwrite half of an identity peers may have pinned */
        *err = cert_errf("%s exists but %s does not; remove it to make a new certificate",
                         have_key ? key_path : crt_path, have_key ? crt_path : key_path);
        return EEXIST;
    }
    if (!cert_generate(c)) {
        ERR_clear_error();
        *err = cert_errf("%s: cannot generate a P-256 certificate%s", state_dir, "");
        return EINVAL;
    }
    int rc = cert_save(c, key_path, crt_path, err);
    if (rc) {
        cert_clear(c);
        return rc;
    }
    log_info(CERT_MOD, "created node certificate %s (fingerprint %s)", crt_path, c->fp_str);
    return 0;
}

void cert_fp_format(const uint8_t fp[CERT_FP_LEN], char out[CERT_FP_STRLEN])
{
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 0; i < CERT_FP_LEN; i++) {
        out[i * 3] = hex[fp[i] >> 4];
        out[i * 3 + 1] = hex[fp[i] & 15];
        out[i * 3 + 2] = i + 1 < CERT_FP_LEN ? ':' : '\0';
    }
}

static int cert_hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

bool cert_fp_parse(const char *s, uint8_t fp[CERT_FP_LEN])
{
    if (!s || strlen(s) != CERT_FP_STRLEN - 1)
        return false;
    for (int i = 0; i < CERT_FP_LEN; i++) {
        int hi = cert_hexval(s[i * 3]), lo = cert_hexval(s[i * 3 + 1]);
        if (hi < 0 || lo < 0)
            return false;
        if (i + 1 < CERT_FP_LEN && s[i * 3 + 2] != ':')
            return false;
        fp[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}
