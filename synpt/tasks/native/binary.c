/* (kernels to come) */
#include "native.h"

PyMethodDef synpt_binary_methods[] = {
    {NULL, NULL, 0, NULL},
};
