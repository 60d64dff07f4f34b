/* Intrusive doubly linked list, the shape of libuv's queue.h: the link lives in
 * the owner, the owner is recovered with sl_container_of. */
#ifndef SLUICE_LIST_H
#define SLUICE_LIST_H

#include <stdbool.h>

typedef struct sl_list {
    struct sl_list *prev, *next;
} sl_list_t;

static inline void sl_list_init(sl_list_t *head) { head->prev = head->next = head; }
static inline bool sl_list_empty(const sl_list_t *head) { return head->next == head; }

/* A node that is not in any list points to itself, so removal is idempotent. */
static inline bool sl_list_linked(const sl_list_t *node) { return node->next != node; }

static inline void sl_list_insert_tail(sl_list_t *head, sl_list_t *node)
{
    node->next = head;
    node->prev = head->prev;
    head->prev->next = node;
    head->prev = node;
}

static inline void sl_list_remove(sl_list_t *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}

#define sl_list_foreach_safe(pos, tmp, head) \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
