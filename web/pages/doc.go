// Package pages is the browser pages for people (not admins): the web
// sign-in for phones (/devicelogin, templates/signin) and the page where a
// person sees and manages their own phones (/my, templates/my). Each page's
// handler, template and tests sit side by side here, over the core in web;
// the tests (package pages_test) drive the pages over HTTP and in Chromium.
package pages
