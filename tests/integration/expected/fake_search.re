# runs 1, 3 and 4 are deterministic (latencies far from the timeouts);
# run 2 uses the seed's random latencies, so its outcome varies
Google 2\.1: web 10ms, image 20ms, video 1000ms; timeout 200ms
timed out
web result for "golang"
image result for "golang"
returned at the timeout, before the video search finished: yes
Google 2\.1 as in the seed: latencies rand\.Intn\(100\) ms; timeout 80ms
? timed out
* (web|image|video) result for "golang"
[0-3] result\(s\)(, timed out)?
all three results or a timeout: yes
First\("golang", web1 500ms, web2 10ms\)
web2 result for "golang"
Google 3\.0: web1 500ms/web2 10ms, image1 15ms/image2 500ms, video1 1000ms/video2 20ms; timeout 200ms
web2 result for "golang"
image1 result for "golang"
video2 result for "golang"
all three results before the timeout: yes
