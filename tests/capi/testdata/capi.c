/* capi: runs an optc bundle through its generated C header.
 *
 * Built by capi_test.go with -include <bundle>/<name>.h and linked against
 * lib<name>.so, for the host and (cross) for aarch64 under qemu:
 *
 *   capi WEIGHTS THREADS IN_0.bin ... OUT_0.bin ...
 *
 * Inputs and outputs are raw little-endian tensor bytes, in the order the
 * header lists them. Exit status: 0 ok, 1 usage or I/O error, 2 open
 * error, 3 run error; errors are printed with optc_last_error().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const long long in_bytes[] = OPTC_MODEL_INPUT_BYTES;
static const long long out_bytes[] = OPTC_MODEL_OUTPUT_BYTES;

static void *read_file(const char *path, long long want) {
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return NULL;
	}
	void *buf = malloc(want > 0 ? (size_t)want : 1);
	size_t got = fread(buf, 1, (size_t)want, f);
	int extra = fgetc(f) != EOF;
	fclose(f);
	if ((long long)got != want || extra) {
		fprintf(stderr, "%s: expected %lld bytes\n", path, want);
		free(buf);
		return NULL;
	}
	return buf;
}

int main(int argc, char **argv) {
	const int nin = OPTC_MODEL_NUM_INPUTS, nout = OPTC_MODEL_NUM_OUTPUTS;
	if (argc != 3 + nin + nout) {
		fprintf(stderr, "usage: %s WEIGHTS THREADS IN*%d OUT*%d\n", argv[0], nin, nout);
		return 1;
	}
	optc_model *m = optc_model_open(argv[1]);
	if (!m) {
		fprintf(stderr, "open: %s\n", optc_last_error());
		return 2;
	}
	int threads = atoi(argv[2]);
	if (threads > 0 && optc_model_set_threads(m, threads) != 0) {
		fprintf(stderr, "threads: %s\n", optc_last_error());
		return 2;
	}
	void *ins[OPTC_MODEL_NUM_INPUTS + 1], *outs[OPTC_MODEL_NUM_OUTPUTS + 1];
	for (int i = 0; i < nin; i++)
		if (!(ins[i] = read_file(argv[3 + i], in_bytes[i])))
			return 1;
	for (int i = 0; i < nout; i++)
		outs[i] = calloc(1, out_bytes[i] > 0 ? (size_t)out_bytes[i] : 1);
	if (optc_model_run(m, (const void *const *)ins, outs) != 0) {
		fprintf(stderr, "run: %s\n", optc_last_error());
		return 3;
	}
	for (int i = 0; i < nout; i++) {
		FILE *f = fopen(argv[3 + nin + i], "wb");
		if (!f || fwrite(outs[i], 1, (size_t)out_bytes[i], f) != (size_t)out_bytes[i]) {
			perror(argv[3 + nin + i]);
			return 1;
		}
		fclose(f);
		free(outs[i]);
	}
	for (int i = 0; i < nin; i++)
		free(ins[i]);
	optc_model_close(m);
	return 0;
}
