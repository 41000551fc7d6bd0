// LD_PRELOAD shim for benchmarks only: counts SQLite write commits made by the process it is
// loaded into, without touching its code. A write commit is either a COMMIT run while the
// connection holds a write transaction, or a writing statement finishing in autocommit mode.
// The count lives in a file mapped shared ($BENCH_COMMIT_COUNTER), so the benchmark driver reads
// it at any moment.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
#define SQLITE_DONE 101
#define SQLITE_TXN_WRITE 2

static int (*real_step)(sqlite3_stmt *);
static const char *(*p_sql)(sqlite3_stmt *);
static sqlite3 *(*p_db_handle)(sqlite3_stmt *);
static int (*p_txn_state)(sqlite3 *, const char *);
static int (*p_autocommit)(sqlite3 *);
static int (*p_readonly)(sqlite3_stmt *);
static volatile uint64_t *counter;

// Optional ($BENCH_SQL_STATS=FILE): how often each statement was stepped to completion, keyed by
// its first 60 characters, written to FILE when the process exits. For finding where work goes.
#include <pthread.h>
#include <stdio.h>
#define STATS_MAX 128
static struct { char key[61]; uint64_t count; } stats[STATS_MAX];
static int stats_used;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *stats_path;

static void stats_note(const char *sql) {
    char key[61];
    int n = 0;
    for (const char *c = sql; *c && n < 60; c++) key[n++] = (*c == '\n' || *c == ' ') ? ' ' : *c;
    key[n] = 0;
    pthread_mutex_lock(&stats_lock);
    int i = 0;
    for (; i < stats_used; i++) if (strcmp(stats[i].key, key) == 0) break;
    if (i == stats_used && stats_used < STATS_MAX) { strcpy(stats[i].key, key); stats_used++; }
    if (i < STATS_MAX) stats[i].count++;
    pthread_mutex_unlock(&stats_lock);
}

__attribute__((destructor)) static void stats_dump(void) {
    if (!stats_path) return;
    FILE *f = fopen(stats_path, "w");
    if (!f) return;
    for (int i = 0; i < stats_used; i++) fprintf(f, "%llu\t%s\n", (unsigned long long)stats[i].count, stats[i].key);
    fclose(f);
}

__attribute__((constructor)) static void init(void) {
    real_step = dlsym(RTLD_NEXT, "sqlite3_step");
    p_sql = dlsym(RTLD_NEXT, "sqlite3_sql");
    p_db_handle = dlsym(RTLD_NEXT, "sqlite3_db_handle");
    p_txn_state = dlsym(RTLD_NEXT, "sqlite3_txn_state");
    p_autocommit = dlsym(RTLD_NEXT, "sqlite3_get_autocommit");
    p_readonly = dlsym(RTLD_NEXT, "sqlite3_stmt_readonly");
    stats_path = getenv("BENCH_SQL_STATS");
    const char *path = getenv("BENCH_COMMIT_COUNTER");
    if (!path) return;
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0) return;
    if (ftruncate(fd, 8) == 0) {
        void *p = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) counter = p;
    }
    close(fd);
}

int sqlite3_step(sqlite3_stmt *stmt) {
    if (!real_step) real_step = dlsym(RTLD_NEXT, "sqlite3_step");
    if (!counter || !p_sql) return real_step(stmt);
    sqlite3 *db = p_db_handle(stmt);
    const char *sql = p_sql(stmt);
    int commit = sql && strncasecmp(sql, "COMMIT", 6) == 0 && p_txn_state(db, NULL) == SQLITE_TXN_WRITE;
    // BEGIN IMMEDIATE/EXCLUSIVE are not "read-only" to SQLite but commit nothing; PRAGMAs are skipped too.
    int control = sql && (strncasecmp(sql, "BEGIN", 5) == 0 || strncasecmp(sql, "PRAGMA", 6) == 0 ||
                          strncasecmp(sql, "SAVEPOINT", 9) == 0 || strncasecmp(sql, "RELEASE", 7) == 0 ||
                          strncasecmp(sql, "ROLLBACK", 8) == 0);
    int autowrite = !commit && !control && p_autocommit(db) && !p_readonly(stmt);
    int rc = real_step(stmt);
    if ((commit || autowrite) && rc == SQLITE_DONE) __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
    if (stats_path && sql && rc == SQLITE_DONE) stats_note(sql);
    return rc;
}
