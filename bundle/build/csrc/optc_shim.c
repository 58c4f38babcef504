/* optc runtime shim: compiled into every bundle's shared library.
 *
 * It maps the weights file, checks it against the safetensors header the
 * library was compiled with, checks the CPU, owns the scratch arena and a
 * pthread pool for optc_parallel_for, and reports errors as strings.
 * The model-specific constants come from the generated optc_info.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define OPTC_HIDDEN __attribute__((visibility("hidden")))
#define OPTC_EXPORT __attribute__((visibility("default")))

typedef int32_t (*optc_segment_fn)(const void *const *, void *const *, const uint8_t *, uint8_t *, void *);
typedef void (*optc_task_fn)(void *ctx, int64_t begin, int64_t end);

/* From optc_info.c (generated). */
extern const char optc_info_name[];
extern const char optc_info_target[];
extern const unsigned char optc_info_header[];
extern const uint64_t optc_info_header_len;
extern const uint64_t optc_info_weight_bytes;
extern const int optc_info_num_segments;
extern const optc_segment_fn optc_info_segments[];
extern const int64_t optc_info_scratch_bytes;
extern const int optc_info_fully_native;
extern const int optc_info_default_threads;
extern const char *optc_info_check_cpu(void);

static __thread char optc_err[1024];

static void optc_set_error(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(optc_err, sizeof optc_err, fmt, ap);
	va_end(ap);
}

OPTC_EXPORT const char *optc_last_error(void) { return optc_err; }

/* ---- thread pool ----
 *
 * A job is a range [0, n) handed out in chunks through an atomic counter;
 * the caller always takes part. Workers join a job only while it is open:
 * once the caller has claimed the last chunk it closes the job and waits
 * just for the workers that joined, so a worker the OS has not scheduled
 * (a busy machine) never delays the caller. Workers spin briefly before
 * sleeping on a condition variable (a model runs many short kernels back
 * to back, and waking a sleeping thread costs microseconds). */

#if defined(__x86_64__)
#define optc_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define optc_relax() __asm__ __volatile__("yield")
#else
#define optc_relax() ((void)0)
#endif

enum { OPTC_SPIN = 20000 };

typedef struct optc_pool {
	int nthreads; /* workers, the caller excluded */
	pthread_t *threads;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	/* under mu (generation and quit are also read atomically to spin) */
	uint64_t generation;
	int quit, open, joined, finished;
	/* the current job: set before it opens, fixed until it is over */
	optc_task_fn fn;
	void *ctx;
	int64_t n, chunk;
	int64_t next; /* atomic: next index to hand out */
} optc_pool;

static void optc_pool_drain(optc_pool *p) {
	for (;;) {
		int64_t b = __atomic_fetch_add(&p->next, p->chunk, __ATOMIC_RELAXED);
		if (b >= p->n)
			return;
		int64_t e = b + p->chunk;
		if (e > p->n)
			e = p->n;
		p->fn(p->ctx, b, e);
	}
}

static void *optc_worker(void *arg) {
	optc_pool *p = arg;
	uint64_t seen = 0;
	for (;;) {
		for (int i = 0; i < OPTC_SPIN; i++) {
			if (__atomic_load_n(&p->generation, __ATOMIC_ACQUIRE) != seen || __atomic_load_n(&p->quit, __ATOMIC_ACQUIRE))
				break;
			optc_relax();
		}
		pthread_mutex_lock(&p->mu);
		while (!p->quit && p->generation == seen)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->quit) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		seen = p->generation;
		int join = p->open;
		if (join)
			p->joined++;
		pthread_mutex_unlock(&p->mu);
		if (!join)
			continue; /* woke too late: the caller finished that job alone */
		optc_pool_drain(p);
		pthread_mutex_lock(&p->mu);
		p->finished++;
		if (!p->open && p->finished == p->joined)
			pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
}

static void optc_pool_free(optc_pool *p) {
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	__atomic_store_n(&p->quit, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p->threads);
	free(p);
}

/* optc_pool_new makes a pool for n threads in all (the caller included). */
static optc_pool *optc_pool_new(int n) {
	optc_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	if (n > 1) {
		p->threads = calloc((size_t)n - 1, sizeof(pthread_t));
		if (!p->threads) {
			optc_pool_free(p);
			return NULL;
		}
		for (int i = 0; i < n - 1; i++) {
			if (pthread_create(&p->threads[i], NULL, optc_worker, p) != 0)
				break;
			p->nthreads++;
		}
	}
	return p;
}

/* optc_parallel_for runs fn over [0, n) in chunks on the pool's threads
 * and the caller; it returns when all are done. Called by generated code. */
OPTC_HIDDEN void optc_parallel_for(void *pool, int64_t n, optc_task_fn fn, void *ctx) {
	optc_pool *p = pool;
	if (n <= 0)
		return;
	if (!p || p->nthreads == 0 || n == 1) {
		fn(ctx, 0, n);
		return;
	}
	int64_t parts = (int64_t)(p->nthreads + 1) * 4;
	int64_t chunk = (n + parts - 1) / parts;
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->ctx = ctx;
	p->n = n;
	p->chunk = chunk < 1 ? 1 : chunk;
	p->next = 0;
	p->joined = p->finished = 0;
	p->open = 1;
	__atomic_store_n(&p->generation, p->generation + 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	optc_pool_drain(p);
	pthread_mutex_lock(&p->mu);
	p->open = 0;
	for (int i = 0; i < OPTC_SPIN && p->finished < p->joined; i++) {
		pthread_mutex_unlock(&p->mu);
		optc_relax();
		pthread_mutex_lock(&p->mu);
	}
	while (p->finished < p->joined)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

/* ---- model ---- */

struct optc_model {
	uint8_t *map;
	size_t map_len;
	const uint8_t *weights;
	uint8_t *scratch;
	optc_pool *pool;
	int threads;
	pthread_mutex_t mu;
};
typedef struct optc_model optc_model;

static int optc_default_threads(void) {
	const char *env = getenv("OPTC_NUM_THREADS");
	if (env && atoi(env) > 0)
		return atoi(env);
	if (optc_info_default_threads > 0)
		return optc_info_default_threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

OPTC_EXPORT void optc_model_close(optc_model *m) {
	if (!m)
		return;
	optc_pool_free(m->pool);
	if (m->map)
		munmap(m->map, m->map_len);
	free(m->scratch);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

OPTC_EXPORT optc_model *optc_model_open(const char *weights_path) {
	const char *cpu = optc_info_check_cpu();
	if (cpu) {
		optc_set_error("model %s was compiled for %s; this CPU lacks %s (recompile with a lower --mcpu)", optc_info_name, optc_info_target, cpu);
		return NULL;
	}
	if (!weights_path) {
		optc_set_error("optc_model_open: weights path is NULL");
		return NULL;
	}
	int fd = open(weights_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		optc_set_error("open weights %s: %s", weights_path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		optc_set_error("stat weights %s: %s", weights_path, strerror(errno));
		close(fd);
		return NULL;
	}
	uint64_t want = 8 + optc_info_header_len + optc_info_weight_bytes;
	if ((uint64_t)st.st_size != want) {
		optc_set_error("weights %s: %lld bytes, model %s expects %llu (not this model's weights file)", weights_path,
			       (long long)st.st_size, optc_info_name, (unsigned long long)want);
		close(fd);
		return NULL;
	}
	uint8_t *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		optc_set_error("mmap weights %s: %s", weights_path, strerror(errno));
		return NULL;
	}
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | map[i];
	if (hlen != optc_info_header_len || memcmp(map + 8, optc_info_header, hlen) != 0) {
		optc_set_error("weights %s: safetensors header differs from the one model %s was compiled with (another model, or weights from another compile)",
			       weights_path, optc_info_name);
		munmap(map, (size_t)st.st_size);
		return NULL;
	}
	optc_model *m = calloc(1, sizeof *m);
	if (!m) {
		munmap(map, (size_t)st.st_size);
		optc_set_error("out of memory");
		return NULL;
	}
	pthread_mutex_init(&m->mu, NULL);
	m->map = map;
	m->map_len = (size_t)st.st_size;
	m->weights = map + 8 + hlen;
	size_t scratch = (size_t)((optc_info_scratch_bytes + 63) / 64 * 64);
	m->scratch = aligned_alloc(64, scratch ? scratch : 64);
	m->threads = optc_default_threads();
	m->pool = optc_pool_new(m->threads);
	if (!m->scratch || !m->pool) {
		optc_model_close(m);
		optc_set_error("out of memory (scratch %zu bytes)", scratch);
		return NULL;
	}
	return m;
}

OPTC_EXPORT int optc_model_set_threads(optc_model *m, int n) {
	if (!m || n < 1) {
		optc_set_error("optc_model_set_threads: need a model and n >= 1");
		return -1;
	}
	pthread_mutex_lock(&m->mu);
	optc_pool *p = optc_pool_new(n);
	if (!p) {
		pthread_mutex_unlock(&m->mu);
		optc_set_error("out of memory");
		return -1;
	}
	optc_pool_free(m->pool);
	m->pool = p;
	m->threads = n;
	pthread_mutex_unlock(&m->mu);
	return 0;
}

OPTC_EXPORT int optc_model_threads(optc_model *m) { return m ? m->threads : 0; }

/* optc_status_text explains the codes a segment returns when a run-time
 * check of its kernels fails (codegen's Status* constants). */
static const char *optc_status_text(int32_t rc) {
	switch (rc) {
	case 2:
		return ": a Gather index is outside the indexed axis";
	case 3:
		return ": run-time Resize scales or sizes do not give the compiled output shape";
	case 4:
		return ": an integer Div by zero";
	}
	return "";
}

/* optc_model_run_segment runs native segment k (partitioned models; Go's
 * runtime/native drives the interpreter steps in between). */
OPTC_EXPORT int optc_model_run_segment(optc_model *m, int k, const void *const *inputs, void *const *outputs) {
	if (!m) {
		optc_set_error("run: model is NULL");
		return -1;
	}
	if (k < 0 || k >= optc_info_num_segments) {
		optc_set_error("run: no native segment %d (model %s has %d)", k, optc_info_name, optc_info_num_segments);
		return -1;
	}
	pthread_mutex_lock(&m->mu);
	int32_t rc = optc_info_segments[k](inputs, outputs, m->weights, m->scratch, m->pool);
	pthread_mutex_unlock(&m->mu);
	if (rc != 0) {
		optc_set_error("run: segment %d failed with code %d%s", k, rc, optc_status_text(rc));
		return -1;
	}
	return 0;
}

OPTC_EXPORT int optc_model_run(optc_model *m, const void *const *inputs, void *const *outputs) {
	if (!optc_info_fully_native) {
		optc_set_error("model %s has nodes that run on optc's interpreter; run it from Go (runtime.Open) instead of the C ABI", optc_info_name);
		return -1;
	}
	return optc_model_run_segment(m, 0, inputs, outputs);
}
