/*
 * The sandbox ("pause") container of every pod on the local cluster. It holds the pod's
 * namespaces open, does nothing else, and as PID 1 of a shared PID namespace it reaps
 * orphaned children so they do not linger as zombies. Written for Peapods because no
 * image can be pulled on the machines it runs on.
 *
 * Contract with the kubelet/containerd: exit 0 on SIGINT or SIGTERM (a normal stop),
 * never exit otherwise.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

/* Reap every child that has exited; more than one may be pending per SIGCHLD. */
static void on_child(int sig) {
  (void)sig;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static int install(int sig, void (*handler)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    printf("peapods-pause 1.0\n");
    return 0;
  }
  if (getpid() != 1) {
    /* Harmless, but it only reaps orphans when it is PID 1 of its namespace. */
    fprintf(stderr, "peapods-pause: not PID 1; orphans will not be reaped here\n");
  }
  if (install(SIGINT, on_stop, 0) || install(SIGTERM, on_stop, 0) ||
      install(SIGCHLD, on_child, SA_NOCLDSTOP | SA_RESTART)) {
    perror("peapods-pause: sigaction");
    return 1;
  }
  for (;;) {
    pause();
  }
  /* not reached */
  return 42;
}
