// Package pages is the browser pages for people (not admins): the web
// sign-in for phones (/devicelogin, templates/signin) and the page where a
// person sees and manages their own phones (/my, templates/my). Each page's
// handler and template sit side by side here, over the core in web; their
// tests are in web (package web_test), which drives every face over HTTP.
package pages
