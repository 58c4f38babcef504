/* two: links two bundles ("first" and "second") into one program and runs
 * each through its own names (first_open, second_run, …); both libraries
 * export the generic optc_* names too, which must not interpose.
 *
 *   two WEIGHTS_1 IN_1 OUT_1 WEIGHTS_2 IN_2 OUT_2   (one input/output each)
 */
#include <stdio.h>
#include <stdlib.h>

#include "first.h"
#include "second.h"

static void *slurp(const char *path, long n) {
	FILE *f = fopen(path, "rb");
	void *b = malloc(n);
	if (!f || fread(b, 1, n, f) != (size_t)n) {
		perror(path);
		exit(1);
	}
	fclose(f);
	return b;
}

static void spit(const char *path, void *b, long n) {
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(b, 1, n, f) != (size_t)n) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

int main(int argc, char **argv) {
	static const long in1[] = OPTC_FIRST_INPUT_BYTES, out1[] = OPTC_FIRST_OUTPUT_BYTES;
	static const long in2[] = OPTC_SECOND_INPUT_BYTES, out2[] = OPTC_SECOND_OUTPUT_BYTES;
	if (argc != 7)
		return 1;
	optc_model *a = first_open(argv[1]), *b = second_open(argv[4]);
	if (!a || !b) {
		fprintf(stderr, "open: %s\n", optc_last_error());
		return 2;
	}
	void *ia[1] = {slurp(argv[2], in1[0])}, *oa[1] = {malloc(out1[0])};
	void *ib[1] = {slurp(argv[5], in2[0])}, *ob[1] = {malloc(out2[0])};
	if (second_run(b, (const void *const *)ib, ob) || first_run(a, (const void *const *)ia, oa)) {
		fprintf(stderr, "run: %s\n", optc_last_error());
		return 3;
	}
	spit(argv[3], oa[0], out1[0]);
	spit(argv[6], ob[0], out2[0]);
	first_close(a);
	second_close(b);
	return 0;
}
