# Tollgate 页面的简体中文文本。每条消息都必须在 en/main.ftl 中也存在。

## Page frame
lang = zh-CN
# The product name in every page heading and title ([branding] product_name).
product-name = Tollgate
lang-switch-label = 语言
sign-out = 退出登录
cancel = 取消
done = 完成
continue = 继续
username = 用户名
password = 密码
password-new = 新密码
password-again = 再次输入新密码
code-label = 6 位验证码
code-verify = 验证
request-id = 请求编号：

## Levels in plain words
level-aal1 = 密码
level-aal2 = 第二重验证
level-phr = 通行密钥
level-phrh = 硬件绑定的密钥

## Risk reasons of a step-up
reason-impossible-travel = 异地登录
reason-impossible-travel-values = 异地登录：{ $time }内从 { $from } 到 { $to }
reason-new-country = 这次登录来自您从未登录过的国家或地区
reason-new-country-values = 这次登录来自您从未登录过的国家或地区（{ $country }）
reason-new-device = 这次登录来自新的设备
reason-device-mismatch = 您的设备与以前不同
reason-account-attack = 您的账户最近有多次登录失败
reason-stuffing-source = 此网络上有许多账户登录失败
reason-hosting-network = 这次登录来自托管服务器网络
reason-anonymizer = 这次登录经过匿名网络
reason-new-asn = 这次登录来自您从未使用过的网络
reason-sensitive-burst = 敏感操作异常频繁
reason-unusual = 这次登录看起来不寻常
duration-minutes = { $n } 分钟
duration-hours = { $n } 小时

## Sign-in
login-title = 登录
login-heading = 登录到 { $client }
login-passkey = 使用通行密钥登录
login-or = 或
login-submit = 登录
account-client-name = 您的账户

## Second factor and step-up
factor-title = 确认是您本人
factor-signing-in = 正在以 { $login } 的身份登录到 { $client }。
stepup-heading = 此操作需要更强的登录验证
stepup-explain = { $client } 要求比当前会话更强的登录验证（{ $level }）。
stepup-continue-as = 请选择以下一种方式，以 { $login } 的身份继续。
stepup-why = 为什么需要验证
factor-passkey = 通行密钥
factor-passkey-use = 使用您的通行密钥
factor-otp = 一次性验证码
factor-otp-label = 身份验证器应用中的 6 位验证码或恢复码，或以下命令给出的验证码：

## Approval on an enrolled device
device-title = 在您的设备上批准
device-explain = { $client } 要求更强的登录验证。请在您已登记的终端上运行
device-explain-after = （或回应代理程序的提示），输入 PIN 并键入此数字：
device-number-label = 要在设备上键入的数字
device-number-expires = 此数字两分钟后失效。
device-continue = 我已批准，继续
device-renew = 显示新的数字
device-otp-heading = 或者输入一次性验证码
device-otp-explain = 离线或没有提示？打开身份验证器应用，或输入终端上此命令显示的验证码：

## A level the user cannot reach
unmet-title = 需要更强的登录验证
unmet-add = 在账户页面添加一种
unmet-add-after = ，然后从应用重新开始。
unmet-ask-admin = 请联系管理员为您设置。
unmet-back = 返回 { $client }
unmet-aal1 = { $client } 需要一种登录方式，但您的账户没有任何登录方式。
unmet-aal2-password = { $client } 要求在密码之后再进行一步验证：身份验证器应用或通行密钥。您只有密码。
unmet-aal2-none = { $client } 要求在密码之后再进行一步验证：身份验证器应用或通行密钥。这两种您都没有。
unmet-phr = { $client } 需要通行密钥（或已登记的设备），您还没有。密码或一次性验证码都不够。
unmet-phrh = { $client } 需要硬件绑定的密钥：由贵组织信任的厂商生产的设备绑定通行密钥，或带 TPM 的设备。您还没有。
unmet-phrh-synced = { $client } 需要硬件绑定的密钥：由贵组织信任的厂商生产的设备绑定通行密钥，或带 TPM 的设备。您还没有（您的通行密钥是同步的，或其厂商不受信任）。

## Account
account-title = 您的账户
account-heading = { $login } 的登录方式
account-passkeys = 通行密钥
account-no-passkeys = 还没有通行密钥。
account-passkey-suspended = 已停用（可能被复制）
account-passkey-added = 添加于 { $date }
account-passkey-last-used = 上次使用：{ $date }
account-passkey-new-name = { $name } 的新名称
account-passkey-rename = 重命名
account-passkey-remove = 删除 { $name }
account-passkey-name-label = 新通行密钥的名称
account-passkey-default-name = 我的通行密钥
account-passkey-add = 添加通行密钥
account-totp = 身份验证器应用（TOTP）
account-totp-on = 已设置身份验证器应用。
account-totp-remove = 删除身份验证器应用
account-totp-setup = 设置身份验证器应用
account-password = 密码
account-password-change = 修改密码
account-recovery = 恢复码
account-recovery-new = 生成新的恢复码
account-back = 返回您的账户
recovery-left = 还有 { $n } 个未使用的恢复码。
recovery-heading = 您的恢复码
recovery-explain = 每个恢复码只能使用一次，可代替身份验证器应用中的验证码。请妥善保存：它们只显示这一次。
totp-scan = 用身份验证器应用扫描此二维码，或手动输入密钥。
totp-qr-alt = 身份验证器应用的二维码
totp-key = 密钥
totp-link = 设置链接
totp-enter-code = 输入应用显示的 6 位验证码
totp-turn-on = 启用
totp-start-explain = 您请求时才会生成新的身份验证器密钥；未完成的设置将被替换。
totp-new = 显示新的密钥
passkey-kind-synced = 同步
passkey-kind-attested = 设备绑定，已认证
passkey-kind-bound = 设备绑定
passkey-never = 从未
passkey-js-failed = 通行密钥未被接受。
passkey-js-cancelled = 未使用通行密钥。

## Password reset link
reset-title = 设置密码
reset-heading = 设置新密码
reset-for = 账户：{ $login }。
reset-explain = 请使用至少 { $n } 个字符；几个不相关的词语就是好密码。此链接只能使用一次。
reset-submit = 设置密码

## Sign out
logout-heading = 退出登录？

## Landing page and demo
home-intro = 这是 { $product } 登录服务，地址为
home-account = 您的账户
home-account-what = 通行密钥、一次性密码、设备。
home-demo = 演示依赖方
home-demo-what = 登录并查看 ID 令牌。
home-discovery = OpenID Connect 发现文档
home-discovery-what = 供依赖方使用。
demo-title = 演示依赖方
demo-heading = 已登录
demo-explain = 演示依赖方已在令牌端点兑换授权码，除您看到的内容外未作其他验证：这是 ID 令牌的内容。

## Sentences handlers pass
msg-invalid-request = 无效的请求
msg-something-wrong = 出了点问题
msg-something-wrong-dot = 出了点问题。
msg-try-later = 请稍后再试。
msg-please-try-later = 请稍后再试。
msg-please-try-again = 请再试一次。
msg-nothing-changed = 没有任何更改。请稍后再试。
msg-form-expired = 表单已过期
msg-reload = 请重新加载页面后再试。
msg-page-expired = 页面已过期。请重新加载后再试。
msg-expired = 此次登录已过期
msg-start-again = 请返回应用重新开始。
msg-other-browser = 此次登录属于另一个浏览器
msg-completed = 此次登录已经完成
msg-go-back = 请返回应用。
msg-link-invalid = 此登录链接无效
msg-unknown-client = 未知的客户端。
msg-unknown-client-named = 未知的客户端 { $q }。
msg-no-client-id = 请求缺少 client_id。
msg-redirect-unregistered = 此 redirect_uri 未在该客户端登记。
msg-no-redirect = 请求缺少 redirect_uri。
msg-params-malformed = 请求参数格式错误。
msg-params-utf8 = 请求参数不是有效的 UTF-8。
msg-no-user = 没有用户。
msg-enter-username = 请输入用户名。
msg-locked = 失败次数过多。请稍后再试。
msg-unavailable = 登录暂时不可用。请稍后再试。
msg-unavailable-short = 登录暂时不可用。
msg-unavailable-title = 登录暂时不可用
msg-busy = 同时登录的人太多。请稍候再试。
msg-server-busy = 服务器繁忙，请稍候再试。
msg-incorrect = 用户名或密码不正确。
msg-too-many = 尝试次数过多
msg-wait = 请等一分钟后再试。
msg-too-many-wait = 尝试次数过多。请等一分钟后再试。
msg-refused = 登录被拒绝
msg-no-account = 此账户已不存在。
msg-policy-refused = 根据贵组织的安全策略，此次登录被拒绝。如果是您本人操作，请联系管理员。
msg-not-json = 请求不是有效的 JSON。
msg-no-passkey = 您没有通行密钥。
msg-passkey-expired = 此通行密钥请求已过期。请再试一次。
msg-passkey-invalid = 通行密钥的响应无效。
msg-passkey-unverified = 无法验证该通行密钥。
msg-passkey-not-registered = 无法注册该通行密钥。
msg-code-used = 该验证码已使用过。请等待下一个验证码。
msg-code-wrong = 验证码不正确。
msg-code-wrong-app = 验证码不正确。请输入应用当前显示的验证码。
msg-passkey-renamed = 通行密钥已重命名。
msg-passkey-missing = 该通行密钥不存在。
msg-last-factor = 您不能删除最后一种登录方式。
msg-passkey-removed = 通行密钥已删除。
msg-totp-exists = 已设置 TOTP。请先删除它。
msg-totp-removed = TOTP 已删除。
msg-password-directory = 您的密码由贵组织的目录服务管理，请在那里修改。
msg-password-differ = 两次输入的密码不一致。
msg-password-changed = 您的密码已修改。
msg-password-short = 密码至少需要 { $n } 个字符
msg-password-long = 密码最多 { $n } 个字符
msg-password-breached = 此密码在已泄露或常见密码列表中，请换一个
msg-password-login = 密码不能包含账户的登录名
msg-device-approved = 已在您的设备上批准。请按继续。
msg-device-mismatch = 设备上键入的数字不匹配。请显示新的数字后再试。
msg-device-refused = 此次登录在设备上被拒绝。
msg-device-expired = 数字已过期。请显示新的数字后再试。
msg-no-device-title = 没有设备
msg-no-device = 您没有已登记的设备。请返回应用重新开始。
msg-device-pending = 尚未批准。请在设备上键入数字，然后继续。
msg-logout-invalid = 无效的退出登录请求
msg-logout-hint = id_token_hint 不是本签发方的有效 ID 令牌。
msg-logout-redirect = 此 post_logout_redirect_uri 未在该客户端登记。
msg-signed-out-title = 已退出登录
msg-signed-out = 您已退出登录。
msg-bad-redirect = 重定向 URI 无效。
msg-reset-gone-title = 此链接已失效
msg-reset-gone = 它已被使用、已过期，或已被更新的链接取代。请向管理员索取新链接。
msg-reset-done-title = 密码已设置
msg-reset-done = 您的新密码已设置，其他会话已结束。请用新密码登录您的应用。
msg-demo-unavailable = 演示不可用
msg-signin-failed = 登录失败
msg-no-code = 没有授权码。
msg-exchange-failed = 授权码兑换失败
