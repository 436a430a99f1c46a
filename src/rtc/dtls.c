/* dtls: placeholder until the module lands. */
