package main

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// Declarations from chDB's public chdb.h.
typedef struct chdb_result_ { void *internal_data; } chdb_result;
typedef chdb_result *(*query_cmdline_fn)(int argc, char **argv);
typedef const char *(*result_error_fn)(chdb_result *result);
typedef void (*destroy_result_fn)(chdb_result *result);

static void *chdb_handle;
static query_cmdline_fn query_cmdline;
static result_error_fn result_error;
static destroy_result_fn destroy_result;

// load opens libchdb and resolves the three entry points; NULL on success,
// otherwise dlerror's text.
static const char *load(const char *path) {
	chdb_handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	if (chdb_handle == NULL) return dlerror();
	query_cmdline = (query_cmdline_fn)dlsym(chdb_handle, "chdb_query_cmdline");
	if (query_cmdline == NULL) return dlerror();
	result_error = (result_error_fn)dlsym(chdb_handle, "chdb_result_error");
	if (result_error == NULL) return dlerror();
	destroy_result = (destroy_result_fn)dlsym(chdb_handle, "chdb_destroy_query_result");
	if (destroy_result == NULL) return dlerror();
	return NULL;
}

// run executes clickhouse-local with argv and returns its error text (malloc'd,
// caller frees) or NULL.
static char *run(int argc, char **argv) {
	chdb_result *r = query_cmdline(argc, argv);
	if (r == NULL) return NULL;
	const char *e = result_error(r);
	char *copy = NULL;
	if (e != NULL && e[0] != 0) {
		size_t n = 0;
		while (e[n] != 0) n++;
		copy = malloc(n + 1);
		for (size_t i = 0; i <= n; i++) copy[i] = e[i];
	}
	destroy_result(r);
	return copy;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// loadLibrary opens libchdb at path.
func loadLibrary(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if msg := C.load(cpath); msg != nil {
		return fmt.Errorf("loading %s: %s", path, C.GoString(msg))
	}
	return nil
}

// runCmdline runs clickhouse-local with args (args[0] is the program name) and
// blocks until its queries end.
func runCmdline(args []string) error {
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	msg := C.run(C.int(len(args)), (**C.char)(unsafe.Pointer(&argv[0])))
	if msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return errors.New(C.GoString(msg))
	}
	return nil
}
