/*
 * image.h — internal to image.c and image_verify.c: the bytecode verifier that image loading
 * runs on every unit it reads.
 */
#ifndef CRYO_FROZEN_IMAGE_H
#define CRYO_FROZEN_IMAGE_H

#include "sync.h"

/* Verifies a unit read from an image (operands, constants, jump targets, prototype and host
 * slot references; docs/serialization.md lists the rules). False with the reason in why. */
bool cfz_verify_unit(const cryo_unit *u, char *why, size_t whylen);

#endif
