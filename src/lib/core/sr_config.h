/* SPDX-License-Identifier: MIT
 *
 * sr_config.h - build-wide configuration.
 *
 * The feature-test macro (_GNU_SOURCE: pipe2, memfd, SCM_RIGHTS helpers,
 * clock ids) is set once for the whole tree by the top-level CMakeLists.txt
 * with add_compile_definitions(), so that it precedes every system header in
 * every file. SR_VERSION comes from project(VERSION) the same way.
 */
#ifndef SR_CONFIG_H
#define SR_CONFIG_H

#ifndef _GNU_SOURCE
#error "_GNU_SOURCE must be set by the build (see CMakeLists.txt)"
#endif

#endif /* SR_CONFIG_H */
