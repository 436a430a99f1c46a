/* rtp: placeholder until the module lands. */
