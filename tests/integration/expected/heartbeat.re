# how many pulses and results arrive depends on timing
1\. healthy worker: pulse every 200ms, work every 400ms, done after 1\.2s, watchdog 400ms
+ (pulse|results \+[0-9]+ms)
pulses: [0-9]+, results: [0-9]+
pulses and results, then the worker closed its channels after done: yes
2\. unhealthy worker: stops after 2 iterations without closing its channels
* (pulse|results \+[0-9]+ms)
worker goroutine is not healthy!
missing heartbeat detected by the watchdog: yes
