"""The effect-only command that carries memcached item metadata through AOF and replication."""
from engine.registry import command


@command("_mcmeta", 4, "write internal", keys=(1, 1, 1))
def mcmeta_command(c, argv):
    """_MCMETA key flags cas: set the memcached flags and CAS id of an existing key (it follows the SET that
    stored the item; refused from normal clients)."""
    e = c.db.find(argv[1])
    if e is not None:
        e.mc_flags = int(argv[2])
        e.cas = int(argv[3])
        if e.cas >= c.ks.next_cas:
            c.ks.next_cas = e.cas + 1
    c.dirty += 1
    c.reply.add_ok()
